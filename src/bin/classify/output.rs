//! Where results go: plain text (the original terminal format), JSON Lines, CSV, or — for embeddings — a
//! `.npy` file. Every writer streams: one row at a time, nothing kept but the counts.

use crate::csv;
use crate::input::{Keep, Row};
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

/// The output layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `label<TAB>p=…<TAB>ms` per text; embeddings as one JSON array per line.
    Text,
    /// One JSON object per row (a JSONL input's object with the results added).
    Jsonl,
    /// A header, then one record per row (a CSV input's columns with the results added).
    Csv,
    /// Embeddings only: a NumPy `.npy` file of float32 `(rows, dim)`.
    Npy,
}

impl Format {
    /// The format a file name implies, if any.
    pub fn from_path(path: &str) -> Option<Self> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(Format::Jsonl)
        } else if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".npy") {
            Some(Format::Npy)
        } else {
            None
        }
    }

    /// Parse `text`, `jsonl`, `csv` or `npy`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" | "txt" => Some(Format::Text),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "npy" => Some(Format::Npy),
            _ => None,
        }
    }
}

/// One row's result.
pub enum Result<'a> {
    /// A classification.
    Classified {
        /// The model's labels.
        labels: &'a [String],
        /// The prediction.
        prediction: &'a encoder_lens::Prediction,
        /// Milliseconds per text in its batch.
        ms: f64,
    },
    /// A sentence embedding.
    Embedding(&'a [f32]),
}

/// Writes results in one [`Format`].
pub struct Writer {
    format: Format,
    out: Box<dyn Write>,
    /// The `.npy` file (seekable: its header is rewritten with the row count at the end).
    npy: Option<BufWriter<File>>,
    /// The CSV header is written before the first row (it needs the labels).
    csv_header: Option<Vec<String>>,
    header_written: bool,
    rows: u64,
    dim: usize,
}

/// Bytes reserved for the `.npy` header (magic, version, length, dict, padding): room for any row count.
const NPY_HEADER: usize = 128;

fn npy_header(rows: u64, dim: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&((NPY_HEADER - 10) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.resize(NPY_HEADER - 1, b' ');
    h.push(b'\n');
    h
}

impl Writer {
    /// A writer of `format` to `path` (`None`: stdout). `csv_header` is a CSV input's header.
    pub fn new(format: Format, path: Option<&str>, csv_header: Option<&[String]>) -> std::result::Result<Self, String> {
        let open = |p: &str| File::create(p).map_err(|e| format!("{p}: {e}"));
        let (out, npy): (Box<dyn Write>, _) = match (format, path) {
            (Format::Npy, Some(p)) => {
                let mut f = BufWriter::new(open(p)?);
                f.write_all(&npy_header(0, 0)).map_err(|e| format!("{p}: {e}"))?;
                (Box::new(io::sink()), Some(f))
            }
            (Format::Npy, None) => return Err("--to npy needs --output FILE.npy (the header is rewritten at the end)".into()),
            (_, Some(p)) if p != "-" => (Box::new(BufWriter::new(open(p)?)), None),
            _ => (Box::new(BufWriter::new(io::stdout())), None),
        };
        Ok(Self {
            format,
            out,
            npy,
            csv_header: csv_header.map(|h| h.to_vec()),
            header_written: false,
            rows: 0,
            dim: 0,
        })
    }

    /// Write `row`'s result.
    pub fn write(&mut self, row: &Row, result: &Result) -> std::result::Result<(), String> {
        self.rows += 1;
        let io = |e: io::Error| format!("writing the output: {e}");
        match (self.format, result) {
            (Format::Text, Result::Classified { labels, prediction: p, ms }) => {
                let probs: Vec<String> = labels.iter().zip(&p.probabilities).map(|(l, v)| format!("{l}={v:.4}")).collect();
                writeln!(self.out, "{}\t{}\t{:.2} ms", p.label, probs.join(" "), ms).map_err(io)
            }
            (Format::Text, Result::Embedding(e)) => writeln!(self.out, "{}", json_array(e)).map_err(io),
            (Format::Jsonl, r) => {
                let mut obj = match &row.keep {
                    Keep::Json(o) => o.clone(),
                    _ => {
                        let mut o = Map::new();
                        o.insert("line".into(), json!(row.line));
                        o
                    }
                };
                match r {
                    Result::Classified { labels, prediction: p, .. } => {
                        let probs: Map<String, Value> =
                            labels.iter().zip(&p.probabilities).map(|(l, &v)| (l.clone(), number(v))).collect();
                        obj.insert("label".into(), json!(p.label));
                        obj.insert("score".into(), number(p.probabilities[p.label_index]));
                        obj.insert("probabilities".into(), Value::Object(probs));
                        obj.insert("tokens".into(), json!(p.ids.len()));
                        obj.insert("truncated".into(), json!(p.truncated));
                    }
                    Result::Embedding(e) => {
                        obj.insert("embedding".into(), Value::Array(e.iter().map(|&v| number(v)).collect()));
                    }
                }
                writeln!(self.out, "{}", Value::Object(obj)).map_err(io)
            }
            (Format::Csv, Result::Classified { labels, prediction: p, .. }) => {
                if !self.header_written {
                    let mut h = self.csv_header.clone().unwrap_or_else(|| vec!["line".into(), "text".into()]);
                    h.extend(["label".to_string(), "score".into()]);
                    h.extend(labels.iter().map(|l| format!("p_{l}")));
                    csv::write_record(&mut self.out, &h).map_err(io)?;
                    self.header_written = true;
                }
                let mut rec = match &row.keep {
                    Keep::Csv(f) => f.clone(),
                    _ => vec![row.line.to_string(), row.text.clone()],
                };
                rec.push(p.label.clone());
                rec.push(p.probabilities[p.label_index].to_string());
                rec.extend(p.probabilities.iter().map(|v| v.to_string()));
                csv::write_record(&mut self.out, &rec).map_err(io)
            }
            (Format::Npy, Result::Embedding(e)) => {
                if self.rows == 1 {
                    self.dim = e.len();
                }
                let f = self.npy.as_mut().ok_or("no .npy file open")?;
                let bytes: Vec<u8> = e.iter().flat_map(|v| v.to_le_bytes()).collect();
                f.write_all(&bytes).map_err(io)
            }
            (Format::Csv, Result::Embedding(_)) | (Format::Npy, Result::Classified { .. }) => {
                Err("this output format does not fit this result (embeddings go to .npy or JSONL)".into())
            }
        }
    }

    /// Flush, and complete the `.npy` header with the row count.
    pub fn finish(&mut self) -> std::result::Result<(), String> {
        let io = |e: io::Error| format!("writing the output: {e}");
        self.out.flush().map_err(io)?;
        if let Some(f) = self.npy.as_mut() {
            f.flush().map_err(io)?;
            let file = f.get_mut();
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(&npy_header(self.rows, self.dim)).map_err(io)?;
            file.flush().map_err(io)?;
        }
        Ok(())
    }
}

/// `v` as the JSON number with the shortest decimals that read back as the same f32 (`null` if not finite).
fn number(v: f32) -> Value {
    v.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

/// Shortest decimals that read back as the same f32 (valid JSON: no NaN after normalising).
fn json_array(v: &[f32]) -> String {
    let values: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", values.join(","))
}

#[cfg(test)]
mod tests {
    #[test]
    fn npy_header_is_aligned_and_parsable() {
        let h = super::npy_header(100_000, 384);
        assert_eq!(h.len(), super::NPY_HEADER);
        assert_eq!(h.len() % 64, 0);
        let dict = std::str::from_utf8(&h[10..]).unwrap();
        assert!(dict.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 384), }"), "{dict}");
        assert!(dict.ends_with('\n'));
    }
}
