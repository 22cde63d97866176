//! `failforward lint [FILE|-]` like other linters — `line:col: category: message`, exit 1 when
//! there are findings, 0 when clean, 2 on error — and `failforward lint-eval`, which measures the
//! linter on a labelled corpus.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::domain::blameless::{evaluate, lint, Rules};

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The file to check, or "-" (the default) for standard input
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Print the findings as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A TSV corpus (label, category, sentence) [default: the development corpus built in]
    file: Option<PathBuf>,
}

const DEV_CORPUS: &str = include_str!("../../tests/data/blameless-dev.tsv");

fn read(file: &PathBuf) -> Result<String, String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))
    }
}

/// Line and column (both from 1, the column in characters) of a character offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let (mut line, mut column) = (1, 1);
    for c in text.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

pub fn run(args: &LintArgs) -> ExitCode {
    let text = match read(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let findings = lint(&text, Rules::builtin());
    let name = if args.file.as_os_str() == "-" {
        "-".to_owned()
    } else {
        args.file.display().to_string()
    };
    if args.json {
        let out: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                let (line, column) = position(&text, f.start);
                serde_json::json!({
                    "category": f.category.as_str(), "start": f.start, "end": f.end,
                    "line": line, "column": column, "message": f.message,
                    "suggestion": f.suggestion, "rule": f.rule,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "file": name, "findings": out }));
    } else {
        for f in &findings {
            let (line, column) = position(&text, f.start);
            let phrase: String = text.chars().skip(f.start).take(f.end - f.start).collect();
            println!(
                "{name}:{line}:{column}: {}: {} (“{phrase}”) {}",
                f.category, f.message, f.suggestion
            );
        }
    }
    if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn evaluate_corpus(args: &EvalArgs) -> ExitCode {
    let corpus = match &args.file {
        None => DEV_CORPUS.to_owned(),
        Some(path) => match read(path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        },
    };
    print!("{}", evaluate(&corpus, Rules::builtin()));
    ExitCode::SUCCESS
}
