//! `failforward lint [FILE|-]` like other linters — `line:col: category: message`, exit 1 when
//! there are findings, 0 when clean, 2 on error — `failforward lint-eval`, which measures the
//! linter on a labelled corpus, and the hidden `failforward lint-train`, which trains the model
//! that ships in the binary.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::domain::blameless::{
    builtin_training_corpus, cross_validate, evaluate_with, lint, read_corpus, train_builtin,
    Model, Params, Rules, DEV_CORPUS, HELDOUT_CORPUS,
};

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
    /// A TSV corpus (`id, text, label, phenomenon, register` or `label, category, sentence`)
    /// [default: 5-fold cross-validation on the training corpus, then the held-out split]
    file: Option<PathBuf>,
    /// Measure the rules alone, without the learned scorer
    #[arg(long)]
    rules_only: bool,
    /// List every sentence the linter got wrong
    #[arg(long)]
    misses: bool,
    /// Cross-validate these training settings instead of the defaults (for tuning; the held-out
    /// split is not measured then)
    #[arg(long, hide = true, value_parser = parse_params)]
    tune: Option<Params>,
    /// With `--tune`: cross-validate on this TSV instead of the built-in training corpus (to try
    /// new training sentences without rebuilding)
    #[arg(long, hide = true, requires = "tune")]
    train: Option<PathBuf>,
}

/// `iterations,learning_rate,l2,flag_threshold,rule_threshold[,category_weight]`
fn parse_params(raw: &str) -> Result<Params, String> {
    let v: Vec<&str> = raw.split(',').collect();
    let (iterations, learning_rate, l2, flag, rule, weight) = match v.as_slice() {
        [a, b, c, d, e] => (a, b, c, d, e, &"1"),
        [a, b, c, d, e, w] => (a, b, c, d, e, w),
        _ => return Err("expected five or six comma-separated values".to_owned()),
    };
    let f = |s: &str| s.trim().parse::<f32>().map_err(|e| e.to_string());
    Ok(Params {
        iterations: iterations.trim().parse().map_err(|e| format!("{e}"))?,
        learning_rate: f(learning_rate)?,
        l2: f(l2)?,
        flag_threshold: f(flag)?,
        rule_threshold: f(rule)?,
        category_weight: f(weight)?,
    })
}

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Where to write the model
    #[arg(long, default_value = "src/domain/blameless/model.bin")]
    out: PathBuf,
}

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
    let rules = Rules::builtin();
    let model = if args.rules_only {
        None
    } else {
        Model::builtin()
    };
    let show = |title: &str, evaluation: &crate::domain::blameless::Evaluation| {
        println!("== {title}");
        if args.misses {
            println!("{evaluation:#}");
        } else {
            println!("{evaluation}");
        }
    };
    if let Some(params) = &args.tune {
        let corpus = match &args.train {
            Some(path) => match read(path) {
                Ok(text) => {
                    let mut corpus = read_corpus(&text);
                    corpus.extend(read_corpus(DEV_CORPUS));
                    corpus
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            },
            None => builtin_training_corpus(),
        };
        show(
            &format!("5-fold cross-validation with {params:?}"),
            &cross_validate(&corpus, rules, params, 5),
        );
        return ExitCode::SUCCESS;
    }
    match &args.file {
        Some(path) => match read(path) {
            Ok(text) => show(
                &path.display().to_string(),
                &evaluate_with(&read_corpus(&text), rules, model),
            ),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        },
        None => {
            if !args.rules_only {
                show(
                    "5-fold cross-validation on the training corpus (tests/data/blameless/train.tsv and blameless-dev.tsv)",
                    &cross_validate(&builtin_training_corpus(), rules, &Params::default(), 5),
                );
            }
            let title = if args.rules_only {
                "held-out split (tests/data/blameless/heldout.tsv), rules alone"
            } else {
                "held-out split (tests/data/blameless/heldout.tsv), rules and the shipped model"
            };
            show(
                title,
                &evaluate_with(&read_corpus(HELDOUT_CORPUS), rules, model),
            );
        }
    }
    ExitCode::SUCCESS
}

/// Trains the model on the built-in training corpus and writes it where `include_bytes!` finds it.
pub fn train(args: &TrainArgs) -> ExitCode {
    let bytes = train_builtin().to_bytes();
    match std::fs::write(&args.out, &bytes) {
        Ok(()) => {
            println!(
                "wrote {} ({} bytes, SHA-256 {})",
                args.out.display(),
                bytes.len(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: writing {}: {error}", args.out.display());
            ExitCode::from(2)
        }
    }
}
