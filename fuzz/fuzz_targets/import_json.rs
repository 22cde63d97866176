//! The JSON import: the export document's parser and the validation of every loop in it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    failforward_fuzz::import(text);
});
