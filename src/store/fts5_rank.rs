//! `ff_rank()`: the FTS5 ranking function search uses on SQLite.
//!
//! It scores a row exactly as FTS5's built-in `bm25()` does (k1 = 1.2, b = 0.75, a weight per
//! column), with one difference: the caller passes each phrase's document frequency instead of
//! the function counting it. `bm25()` counts every row that contains each phrase before it scores
//! the first row, so its cost grows with the archive: over a million loops a word found in nearly
//! all of them takes longer to count than the whole search may take. Search only ranks the newest
//! matches (see `search_sqlite.rs`), and the document frequencies come from a cache there.
//!
//! Arguments: `ff_rank(search_index, <weight per column>…, <document frequency per phrase>…)`.
//! A missing weight is 1; a missing frequency is "in every row" (the phrase counts for little).
//!
//! FTS5 offers auxiliary functions only through its C interface, hence the one module of the
//! crate that uses `unsafe`: every pointer it reads comes from SQLite for the duration of the call.
#![allow(unsafe_code)]

use std::ffi::{c_int, CStr};
use std::ptr;

use libsqlite3_sys as ffi;

const NAME: &CStr = c"ff_rank";
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Makes `ff_rank()` available on one connection (call it for every new connection).
pub(super) fn register(db: *mut ffi::sqlite3) -> Result<(), String> {
    // SAFETY: `db` is an open connection owned by the caller for the duration of this call. The
    // statement is finalised before returning; `api` is written by SQLite through the bound
    // pointer during `sqlite3_step` and points into the connection, which outlives the call.
    unsafe {
        let mut statement = ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut statement,
            ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK {
            return Err(format!("FTS5 is not available (code {rc})"));
        }
        let mut api: *mut ffi::fts5_api = ptr::null_mut();
        ffi::sqlite3_bind_pointer(
            statement,
            1,
            (&mut api as *mut *mut ffi::fts5_api).cast(),
            c"fts5_api_ptr".as_ptr(),
            None,
        );
        ffi::sqlite3_step(statement);
        ffi::sqlite3_finalize(statement);
        if api.is_null() {
            return Err("FTS5 did not hand out its interface".to_owned());
        }
        let Some(create) = (*api).xCreateFunction else {
            return Err("FTS5 cannot create functions".to_owned());
        };
        let rc = create(api, NAME.as_ptr(), ptr::null_mut(), Some(rank), None);
        if rc != ffi::SQLITE_OK {
            return Err(format!("registering ff_rank failed (code {rc})"));
        }
    }
    Ok(())
}

/// The entry point SQLite calls for every row.
unsafe extern "C" fn rank(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    context: *mut ffi::sqlite3_context,
    argument_count: c_int,
    arguments: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite passes a valid interface, context and `argument_count` values.
    unsafe {
        let arguments: Vec<f64> = (0..usize::try_from(argument_count).unwrap_or(0))
            .map(|i| ffi::sqlite3_value_double(*arguments.add(i)))
            .collect();
        match score(&*api, fts, &arguments) {
            Ok(score) => ffi::sqlite3_result_double(context, score),
            Err(code) => ffi::sqlite3_result_error_code(context, code),
        }
    }
}

fn ok(rc: c_int) -> Result<(), c_int> {
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rc)
    }
}

/// SAFETY: `api` and `fts` are what SQLite passed to [`rank`] for the current row.
unsafe fn score(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    arguments: &[f64],
) -> Result<f64, c_int> {
    let missing = ffi::SQLITE_ERROR;
    let (
        Some(column_count),
        Some(phrase_count),
        Some(row_count),
        Some(total_size),
        Some(column_size),
        Some(inst_count),
        Some(inst),
    ) = (
        api.xColumnCount,
        api.xPhraseCount,
        api.xRowCount,
        api.xColumnTotalSize,
        api.xColumnSize,
        api.xInstCount,
        api.xInst,
    )
    else {
        return Err(missing);
    };
    // SAFETY: the functions come from the interface SQLite handed to this call.
    unsafe {
        let columns = usize::try_from(column_count(fts)).unwrap_or(0);
        let phrases = usize::try_from(phrase_count(fts)).unwrap_or(0);
        let mut rows: i64 = 0;
        ok(row_count(fts, &mut rows))?;
        let mut tokens: i64 = 0;
        ok(total_size(fts, -1, &mut tokens))?;
        let mut length: c_int = 0;
        ok(column_size(fts, -1, &mut length))?;
        let mut instances: c_int = 0;
        ok(inst_count(fts, &mut instances))?;
        let mut frequency = vec![0.0_f64; phrases];
        for i in 0..instances {
            let (mut phrase, mut column, mut offset) = (0, 0, 0);
            ok(inst(fts, i, &mut phrase, &mut column, &mut offset))?;
            let weight = usize::try_from(column)
                .ok()
                .and_then(|c| arguments.get(c).copied())
                .unwrap_or(1.0);
            if let Some(f) = usize::try_from(phrase)
                .ok()
                .and_then(|p| frequency.get_mut(p))
            {
                *f += weight;
            }
        }
        let rows = rows.max(1) as f64;
        let average = (tokens as f64 / rows).max(1.0);
        let norm = K1 * (1.0 - B + B * f64::from(length) / average);
        Ok(frequency
            .iter()
            .enumerate()
            .filter(|(_, tf)| **tf > 0.0)
            .map(|(p, tf)| {
                let documents = arguments
                    .get(columns + p)
                    .copied()
                    .unwrap_or(rows)
                    .clamp(0.0, rows);
                inverse_document_frequency(rows, documents) * tf * (K1 + 1.0) / (tf + norm)
            })
            .sum())
    }
}

/// As FTS5's `bm25()` computes it, never below a millionth (a phrase in most rows still counts
/// a little).
fn inverse_document_frequency(rows: f64, documents: f64) -> f64 {
    ((rows - documents + 0.5) / (documents + 0.5))
        .ln()
        .max(1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarer_phrases_weigh_more() {
        let rare = inverse_document_frequency(1_000_000.0, 10.0);
        let common = inverse_document_frequency(1_000_000.0, 200_000.0);
        let everywhere = inverse_document_frequency(1_000_000.0, 1_000_000.0);
        assert!(rare > common && common > everywhere);
        assert!(everywhere > 0.0);
    }
}
