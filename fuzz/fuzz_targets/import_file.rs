//! Files as uploaded: the HTML reader (html5ever, then the Markdown reader) and, for input that
//! starts like a zip archive, the `.docx` reader, then the import's validation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = if data.starts_with(b"PK") {
        "fuzzed.docx"
    } else {
        "fuzzed.html"
    };
    failforward_fuzz::import_file(name, data);
});
