//! The rows to classify, streamed: plain lines, JSON Lines (a string field of each object) or CSV (a
//! named column). Each row keeps what the output needs to round-trip it (the JSON object, the CSV fields);
//! a row that cannot be read is reported with its line number and reading goes on.

use crate::csv;
use serde_json::{Map, Value};
use std::io::{self, BufRead};

/// How the input is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One text per line (an empty line is an empty text).
    Lines,
    /// One JSON object per line; blank lines are skipped.
    Jsonl,
    /// A header line, then one record per row.
    Csv,
}

impl Format {
    /// The format a file name implies: `.jsonl`/`.ndjson` → JSONL, `.csv` → CSV, else lines.
    pub fn from_path(path: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Format::Jsonl
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else {
            Format::Lines
        }
    }

    /// Parse `lines`, `jsonl` or `csv`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lines" | "txt" | "text" => Some(Format::Lines),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// What a row carries through to the output besides its text.
pub enum Keep {
    /// A plain line: nothing.
    Nothing,
    /// The JSON object the text came from.
    Json(Map<String, Value>),
    /// The CSV record the text came from.
    Csv(Vec<String>),
}

/// One row to classify.
pub struct Row {
    /// The line it starts on (1-based, counting a CSV header).
    pub line: u64,
    /// The text.
    pub text: String,
    /// What the output round-trips.
    pub keep: Keep,
}

/// A row, or the line number and reason it could not be read.
pub type Item = Result<Row, (u64, String)>;

/// Streams rows from `input`.
pub struct Rows<R> {
    format: Format,
    field: String,
    lines: csv::Reader<R>,
    /// The CSV header and the index of the text column.
    header: Option<(Vec<String>, usize)>,
}

impl<R: BufRead> Rows<R> {
    /// Rows of `format` from `input`; `field` names the JSON field or CSV column holding the text. A CSV
    /// input's header is read here: a missing header or column is an error.
    pub fn new(input: R, format: Format, field: &str) -> Result<Self, String> {
        let mut rows = Self { format, field: field.to_string(), lines: csv::Reader::new(input), header: None };
        if format == Format::Csv {
            let header = match rows.lines.next().map_err(|e| format!("reading the header: {e}"))? {
                None => return Err("the CSV input is empty (no header line)".into()),
                Some((_, csv::Record::Bad(e))) => return Err(format!("line 1 (the header): {e}")),
                Some((_, csv::Record::Fields(f))) => f,
            };
            // A UTF-8 byte order mark before the first column name.
            let names: Vec<String> = header.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
            let col = names.iter().position(|h| h == field).ok_or_else(|| {
                format!("the CSV header has no column `{field}` (columns: {}); choose one with --field", names.join(", "))
            })?;
            rows.header = Some((names, col));
        }
        Ok(rows)
    }

    /// The CSV header (column names), for a CSV input.
    pub fn header(&self) -> Option<&[String]> {
        self.header.as_ref().map(|(h, _)| &h[..])
    }

    /// Bytes consumed so far (for the progress bar's ETA).
    pub fn bytes(&self) -> u64 {
        self.lines.bytes
    }

    /// The next row or bad row; `None` at the end of the input.
    pub fn next(&mut self) -> io::Result<Option<Item>> {
        match self.format {
            Format::Csv => self.next_csv(),
            Format::Lines | Format::Jsonl => loop {
                let Some((line, bytes)) = self.next_line()? else { return Ok(None) };
                let text = match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => return Ok(Some(Err((line, format!("not valid UTF-8 ({})", e.utf8_error()))))),
                };
                if self.format == Format::Lines {
                    return Ok(Some(Ok(Row { line, text, keep: Keep::Nothing })));
                }
                if text.trim().is_empty() {
                    continue;
                }
                return Ok(Some(self.json_row(line, &text)));
            },
        }
    }

    fn next_line(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        let r = &mut self.lines;
        let mut buf = Vec::new();
        let n = std::io::BufRead::read_until(r.input_mut(), b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        r.lines += 1;
        r.bytes += n as u64;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(Some((r.lines, buf)))
    }

    fn json_row(&self, line: u64, text: &str) -> Item {
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return Err((line, "not a JSON object".into())),
            Err(e) => return Err((line, format!("invalid JSON ({e})"))),
        };
        match obj.get(&self.field) {
            Some(Value::String(s)) => Ok(Row { line, text: s.clone(), keep: Keep::Json(obj) }),
            Some(_) => Err((line, format!("field `{}` is not a string", self.field))),
            None => Err((line, format!("no field `{}`", self.field))),
        }
    }

    fn next_csv(&mut self) -> io::Result<Option<Item>> {
        let Some((line, rec)) = self.lines.next()? else { return Ok(None) };
        let Some((header, col)) = self.header.as_ref() else { return Ok(Some(Err((line, "no CSV header".into())))) };
        Ok(Some(match rec {
            csv::Record::Bad(e) => Err((line, e)),
            csv::Record::Fields(f) if f.len() == 1 && f[0].is_empty() && header.len() > 1 => {
                Err((line, "empty line".into()))
            }
            csv::Record::Fields(f) if f.len() != header.len() => {
                Err((line, format!("{} fields, the header has {}", f.len(), header.len())))
            }
            csv::Record::Fields(f) => Ok(Row { line, text: f[*col].clone(), keep: Keep::Csv(f) }),
        }))
    }
}
