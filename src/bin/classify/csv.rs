//! CSV as RFC 4180 writes it: fields separated by commas, records by CRLF or LF, a field that holds a
//! comma, a quote or a line break is quoted and its quotes doubled. A quoted field may span lines, so a
//! record is read as one or more physical lines.

use std::io::{self, BufRead, Write};

/// Longest record read; a longer one (usually an unterminated quote) is a bad row and reading resumes
/// after it.
pub const MAX_RECORD_BYTES: usize = 32 << 20;

/// One record, or why it could not be read.
pub enum Record {
    /// The fields, each valid UTF-8.
    Fields(Vec<String>),
    /// A record that is not valid CSV or not UTF-8; the reader has moved past it.
    Bad(String),
}

/// Reads records from `input`, counting physical lines and bytes.
pub struct Reader<R> {
    input: R,
    /// Physical lines consumed so far.
    pub lines: u64,
    /// Bytes consumed so far.
    pub bytes: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Reader<R> {
    /// A reader at the start of `input`.
    pub fn new(input: R) -> Self {
        Self { input, lines: 0, bytes: 0, buf: Vec::new() }
    }

    /// The input, for reading plain lines through the same counters.
    pub fn input_mut(&mut self) -> &mut R {
        &mut self.input
    }

    /// The next record and the line it starts on, or `None` at the end.
    pub fn next(&mut self) -> io::Result<Option<(u64, Record)>> {
        self.buf.clear();
        let start = self.lines + 1;
        loop {
            let n = self.input.read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                // End of input inside a quoted field.
                return Ok(Some((start, Record::Bad("unterminated quoted field at the end of the input".into()))));
            }
            self.lines += 1;
            self.bytes += n as u64;
            if quotes_balanced(&self.buf) {
                break;
            }
            if self.buf.len() > MAX_RECORD_BYTES {
                return Ok(Some((start, Record::Bad(format!(
                    "record longer than {} MiB (an unterminated quote?); skipped to line {}",
                    MAX_RECORD_BYTES >> 20,
                    self.lines + 1
                )))));
            }
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(Some((start, parse(&self.buf))))
    }
}

/// Whether `record` ends outside a quoted field. A quote opens a quoted field only at the start of a
/// field (a stray quote elsewhere is an error [`parse`] reports, not the start of a multi-line field).
fn quotes_balanced(record: &[u8]) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut i = 0;
    while i < record.len() {
        match (quoted, record[i]) {
            (true, b'"') if record.get(i + 1) == Some(&b'"') => i += 1,
            (true, b'"') => quoted = false,
            (false, b'"') if field_start => quoted = true,
            (false, b',') => {
                field_start = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        field_start = false;
        i += 1;
    }
    !quoted
}

/// The fields of one record (line breaks inside quotes kept).
pub fn parse(record: &[u8]) -> Record {
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    let mut was_quoted = false;
    while i < record.len() {
        let b = record[i];
        if quoted {
            if b == b'"' {
                if record.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    quoted = false;
                }
            } else {
                field.push(b);
            }
        } else if b == b',' {
            fields.push(std::mem::take(&mut field));
            was_quoted = false;
        } else if b == b'"' {
            if !field.is_empty() || was_quoted {
                return Record::Bad(format!("a quote inside an unquoted field (column {})", fields.len() + 1));
            }
            quoted = true;
            was_quoted = true;
        } else if was_quoted {
            return Record::Bad(format!("text after a closing quote (column {})", fields.len() + 1));
        } else {
            field.push(b);
        }
        i += 1;
    }
    if quoted {
        return Record::Bad("unterminated quoted field".into());
    }
    fields.push(field);
    let mut out = Vec::with_capacity(fields.len());
    for (c, f) in fields.into_iter().enumerate() {
        match String::from_utf8(f) {
            Ok(s) => out.push(s),
            Err(e) => return Record::Bad(format!("column {} is not valid UTF-8 ({})", c + 1, e.utf8_error())),
        }
    }
    Record::Fields(out)
}

/// Write one record, quoting the fields that need it, ending in `\n`.
pub fn write_record<S: AsRef<str>>(out: &mut impl Write, fields: &[S]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", f.replace('"', "\"\""))?;
        } else {
            out.write_all(f.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &str) -> Vec<(u64, Result<Vec<String>, String>)> {
        let mut r = Reader::new(input.as_bytes());
        let mut v = Vec::new();
        while let Some((line, rec)) = r.next().unwrap() {
            v.push((line, match rec { Record::Fields(f) => Ok(f), Record::Bad(e) => Err(e) }));
        }
        v
    }

    #[test]
    fn quoted_fields_commas_quotes_and_line_breaks() {
        let v = read_all("id,text\r\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,plain\n");
        let fields: Vec<_> = v.iter().map(|(l, r)| (*l, r.clone().unwrap())).collect();
        assert_eq!(fields[0], (1, vec!["id".to_string(), "text".into()]));
        assert_eq!(fields[1], (2, vec!["1".to_string(), "a, b".into()]));
        assert_eq!(fields[2], (3, vec!["2".to_string(), "say \"hi\"".into()]));
        assert_eq!(fields[3], (4, vec!["3".to_string(), "two\nlines".into()]));
        assert_eq!(fields[4], (6, vec!["4".to_string(), "plain".into()]), "line numbers count physical lines");
    }

    #[test]
    fn bad_records_are_reported_and_reading_goes_on() {
        let v = read_all("a,b\"c\n1,\"x\"y\nok,1\n\"open\n");
        assert!(v[0].1.as_ref().unwrap_err().contains("quote inside an unquoted field"), "{:?}", v[0]);
        assert!(v[1].1.as_ref().unwrap_err().contains("after a closing quote"), "{:?}", v[1]);
        assert_eq!(v[2], (3, Ok(vec!["ok".to_string(), "1".into()])));
        assert_eq!(v[3].0, 4);
        assert!(v[3].1.as_ref().unwrap_err().contains("unterminated"), "{:?}", v[3]);
    }

    #[test]
    fn write_then_read_round_trips() {
        let rows = [vec!["plain", "a, b", "say \"hi\"", "two\nlines", ""]];
        let mut out = Vec::new();
        for r in &rows {
            write_record(&mut out, r).unwrap();
        }
        let v = read_all(std::str::from_utf8(&out).unwrap());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1.clone().unwrap(), rows[0]);
    }

    #[test]
    fn invalid_utf8_is_a_bad_record() {
        match parse(b"1,\xff\xfe") {
            Record::Bad(e) => assert!(e.contains("column 2 is not valid UTF-8"), "{e}"),
            Record::Fields(f) => panic!("parsed {f:?}"),
        }
    }
}
