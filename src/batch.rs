//! A padded batch of token ids: what one forward pass reads.

use crate::error::{Error, Result};

/// A padded batch of token ids.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Token ids, padded with the pad token.
    pub ids: Vec<u32>,              // (batch, seq), padded with pad_token_id
    /// Token type (segment) ids, for models that have them.
    pub type_ids: Option<Vec<u32>>, // (batch, seq)
    /// Real (non-padding) tokens per row.
    pub lengths: Vec<usize>,        // (batch): real tokens per row
    /// Number of rows (texts).
    pub batch: usize,
    /// Padded length of every row, in tokens.
    pub seq: usize,
}

impl Batch {
    /// Pad `rows` of ids to the longest one.
    pub fn from_rows(rows: &[Vec<u32>], pad: u32) -> Result<Self> {
        if rows.is_empty() {
            return Err(Error::Input("a batch needs at least one sequence".into()));
        }
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        if seq == 0 {
            return Err(Error::Input("a sequence needs at least one token".into()));
        }
        let mut ids = vec![pad; rows.len() * seq];
        for (b, r) in rows.iter().enumerate() {
            ids[b * seq..b * seq + r.len()].copy_from_slice(r);
        }
        Ok(Self { ids, type_ids: None, lengths: rows.iter().map(Vec::len).collect(), batch: rows.len(), seq })
    }

    /// `batch · seq`: the rows of every `(batch·seq, d)` activation.
    pub fn rows(&self) -> usize {
        self.batch * self.seq
    }

    /// The shape checks every backend relies on (ids against the vocabulary are the model's check).
    pub fn check(&self, max_len: usize) -> Result<()> {
        if self.batch == 0 || self.seq == 0 {
            return Err(Error::Input("empty batch".into()));
        }
        if self.seq > max_len {
            return Err(Error::Input(format!("sequence of {} tokens is longer than max_len {max_len}", self.seq)));
        }
        if self.ids.len() != self.batch * self.seq || self.lengths.len() != self.batch {
            return Err(Error::Input("batch ids/lengths do not match its shape".into()));
        }
        if let Some(t) = &self.type_ids {
            if t.len() != self.ids.len() {
                return Err(Error::Input("type_ids do not match the batch shape".into()));
            }
        }
        if let Some(&l) = self.lengths.iter().find(|&&l| l == 0 || l > self.seq) {
            return Err(Error::Input(format!("sequence length {l} is outside 1..={}", self.seq)));
        }
        Ok(())
    }
}
