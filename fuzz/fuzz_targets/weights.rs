//! safetensors weights loader: arbitrary bytes, and structured mutations of a real header.
//!
//! Input: `mode, rest`. Mode (byte 0, mod 4):
//! - 0: `rest` is a whole safetensors file.
//! - 1: the real `tests/fixtures/models/prenorm-gelu/model.safetensors` with `rest` read as patches
//!   `(offset u16 LE, len u8, bytes…)` over its first 8 + header-length bytes (the length prefix and the
//!   JSON header: offsets, shapes, dtypes, names, sizes that overflow).
//! - 2: `rest` split at the first 0xFF into two files loaded together with `Weights::from_parts`.
//! - 3: structured edits of the same real header, parsed into its entries: `rest` is a list of
//!   `(op u8, tensor u8, value u64 LE)` edits ([`Edit`]: a begin/end offset, a dimension, a dtype, a
//!   duplicated or renamed entry, an overflowing shape, swapped offsets, a dropped entry, a wrong length
//!   prefix, a truncated data region), written back as JSON (duplicate keys included) in front of the
//!   real data.
//!
//! When a file loads, every tensor is read with `get_stored` and `get_i32` at its own shape (the values are
//! finite and there are as many as the shape says; `Weights::get` is `Tensor::new` over them) and once at a
//! wrong shape: Ok or Err, never a panic.
//!
//! Speed: the fixture is 2.3 MB. Modes 1 and 3 never copy it per run: one buffer holds the real data
//! once, behind a header slot of fixed size (the JSON is padded with spaces, which the format allows),
//! and a run rewrites only the slot (mode 1 restores the bytes it patched afterwards). Each tensor is
//! decoded once per run, not twice.
#![no_main]

use encoder_lens::tensor::Tensor;
use encoder_lens::weights::{ByteSource, Weights};
use libfuzzer_sys::fuzz_target;
use safetensors::SafeTensors;
use std::cell::RefCell;

const REAL: &[u8] = include_bytes!("../../tests/fixtures/models/prenorm-gelu/model.safetensors");
/// Room for the header in mode 3's buffer: the real header plus this many bytes of edits.
const SLOT_EXTRA: usize = 4096;

fn real_header_len() -> usize {
    u64::from_le_bytes(REAL[..8].try_into().unwrap()) as usize
}

fn read_all(parts: &[&[u8]]) {
    // The browser's path (`Weights::from_sources`: each tensor copied from the caller's bytes when asked
    // for) accepts and refuses the same files and reads the same values. (Not always with the same message:
    // with two entries at the same offsets, which one the check meets first follows a HashMap's order,
    // which differs between two parses — in the safetensors crate itself too.)
    let sources: Vec<&dyn ByteSource> = parts.iter().map(|p| p as &dyn ByteSource).collect();
    let outside = Weights::from_sources(&sources);
    let Ok(w) = Weights::from_parts(parts) else {
        assert!(outside.is_err(), "from_sources accepted what from_parts refused");
        return;
    };
    let outside = outside.expect("from_sources refused what from_parts accepted");
    for p in parts {
        let Ok(st) = SafeTensors::deserialize(p) else { continue };
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let (stored, other) = (w.get_stored(&name, &shape), outside.get_stored(&name, &shape));
            assert_eq!(stored.as_ref().ok(), other.as_ref().ok(), "`{name}` from_sources");
            if let Ok(stored) = stored {
                // (get_stored has just checked that every value is finite, and tests/ check that check.)
                let t = Tensor::new(shape.clone(), stored.to_f32())
                    .expect("get_stored returns as many values as the shape says");
                assert_eq!(t.shape, shape);
            } else {
                assert!(w.get(&name, &shape).is_err(), "get_stored failed but get succeeded on `{name}`");
            }
            // I32 (int8 models' outlier column indices): Ok exactly for I32 tensors, one value per element
            match w.get_i32(&name, &shape) {
                Ok(v) => assert_eq!(v.len(), shape.iter().product::<usize>(), "`{name}` as I32"),
                Err(_) => assert!(view.dtype() != safetensors::Dtype::I32, "I32 `{name}` failed to read"),
            }
            let mut wrong = shape.clone();
            wrong.push(1);
            assert!(w.get_stored(&name, &wrong).is_err(), "`{name}` read at a wrong shape");
            assert!(w.get_i32(&name, &wrong).is_err(), "`{name}` read as I32 at a wrong shape");
        }
    }
    assert!(w.get_stored("no such tensor", &[1]).is_err());
    let _ = w.names();
}

/// One entry of the header, in file order.
#[derive(Clone)]
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<u64>,
    offsets: [u64; 2],
}

/// The real header's entries (and its `__metadata__`, kept as raw JSON when present).
fn real_entries() -> &'static (Vec<Entry>, Option<String>) {
    static E: std::sync::OnceLock<(Vec<Entry>, Option<String>)> = std::sync::OnceLock::new();
    E.get_or_init(|| {
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&REAL[8..8 + real_header_len()]).expect("the fixture's header is JSON");
        let mut meta = None;
        let mut entries = Vec::new();
        for (name, v) in header {
            if name == "__metadata__" {
                meta = Some(v.to_string());
                continue;
            }
            let offs: Vec<u64> = v["data_offsets"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            entries.push(Entry {
                name,
                dtype: v["dtype"].as_str().unwrap().to_string(),
                shape: v["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect(),
                offsets: [offs[0], offs[1]],
            });
        }
        // File order is data-offset order (the map sorted them by name).
        entries.sort_by_key(|e| e.offsets[0]);
        (entries, meta)
    })
}

const DTYPES: [&str; 14] =
    ["F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL", "F8_E4M3", "F8_E5M2", "f32", "F4"];

/// Mode 3's edits of the parsed header. `value` is the u64 that follows the op.
#[derive(Clone, Copy)]
enum Edit {
    Begin,
    End,
    Dim,
    DropDim,
    Dtype,
    Duplicate,
    Rename,
    OverflowShape,
    SwapOffsets,
    Delete,
    LengthPrefix,
    TruncateData,
    /// Offsets shifted by a small signed amount (an off-by-one between neighbours).
    Nudge,
}

const EDITS: [Edit; 13] = [
    Edit::Begin,
    Edit::End,
    Edit::Dim,
    Edit::DropDim,
    Edit::Dtype,
    Edit::Duplicate,
    Edit::Rename,
    Edit::OverflowShape,
    Edit::SwapOffsets,
    Edit::Delete,
    Edit::LengthPrefix,
    Edit::TruncateData,
    Edit::Nudge,
];

/// Mode 1's and 3's buffer: 8-byte prefix, header slot, the real data (copied in once).
struct Buf {
    bytes: Vec<u8>,
    slot: usize,
}

thread_local! {
    static BUF: RefCell<Option<Buf>> = const { RefCell::new(None) };
}

fn with_buf<R>(f: impl FnOnce(&mut Buf) -> R) -> R {
    BUF.with(|b| {
        let mut b = b.borrow_mut();
        let buf = b.get_or_insert_with(|| {
            let h = real_header_len();
            let slot = h + SLOT_EXTRA;
            let mut bytes = Vec::with_capacity(8 + slot + REAL.len() - 8 - h);
            bytes.extend_from_slice(&(slot as u64).to_le_bytes());
            bytes.extend_from_slice(&REAL[8..8 + h]);
            bytes.resize(8 + slot, b' ');
            bytes.extend_from_slice(&REAL[8 + h..]);
            Buf { bytes, slot }
        });
        f(buf)
    })
}

/// Mode 1: byte patches over the real file's first 8 + header-length bytes.
fn patch_real(mut p: &[u8]) {
    let span = 8 + real_header_len();
    // The real file, unchanged except where patched; the patched range is restored afterwards.
    thread_local! {
        static FILE: RefCell<Vec<u8>> = RefCell::new(REAL.to_vec());
    }
    FILE.with(|f| {
        let mut file = f.borrow_mut();
        let (mut lo, mut hi) = (span, 0);
        while p.len() >= 3 {
            let off = u16::from_le_bytes([p[0], p[1]]) as usize % span;
            let len = (p[2] as usize).min(p.len() - 3);
            let bytes = &p[3..3 + len];
            let end = (off + len).min(span);
            file[off..end].copy_from_slice(&bytes[..end - off]);
            (lo, hi) = (lo.min(off), hi.max(end));
            p = &p[3 + len..];
        }
        read_all(&[&file]);
        if lo < hi {
            file[lo..hi].copy_from_slice(&REAL[lo..hi]);
        }
    });
}

/// Mode 3: structured edits of the real header's entries.
fn edit_real(mut p: &[u8]) {
    let (real, meta) = real_entries();
    let mut entries = real.clone();
    let mut prefix: Option<u64> = None;
    let mut data_len = REAL.len() - 8 - real_header_len();
    while p.len() >= 10 && !entries.is_empty() {
        let edit = EDITS[p[0] as usize % EDITS.len()];
        let i = p[1] as usize % entries.len();
        let v = u64::from_le_bytes(p[2..10].try_into().unwrap());
        p = &p[10..];
        let n = entries.len();
        let e = &mut entries[i];
        match edit {
            Edit::Begin => e.offsets[0] = v,
            Edit::End => e.offsets[1] = v,
            Edit::Dim => {
                let k = (v >> 56) as usize;
                let d = v & 0x00ff_ffff_ffff_ffff;
                let at = k % (e.shape.len() + 1);
                match e.shape.get_mut(at) {
                    Some(x) => *x = d,
                    None => e.shape.push(d),
                }
            }
            Edit::DropDim => {
                if !e.shape.is_empty() {
                    let k = v as usize % e.shape.len();
                    e.shape.remove(k);
                }
            }
            Edit::Dtype => e.dtype = DTYPES[v as usize % DTYPES.len()].to_string(),
            Edit::Duplicate => {
                let copy = e.clone();
                let at = v as usize % (n + 1);
                entries.insert(at, copy);
            }
            Edit::Rename => {
                let other = entries[v as usize % n].name.clone();
                entries[i].name = other;
            }
            Edit::OverflowShape => {
                // Dimensions whose product overflows u64 / usize, or whose byte size does.
                e.shape = match v % 4 {
                    0 => vec![u64::MAX, 2],
                    1 => vec![1 << 32, 1 << 32],
                    2 => vec![(1 << 62) + (v >> 2 & 0xff)],
                    _ => vec![usize::MAX as u64 / 4 + 1],
                };
            }
            Edit::SwapOffsets => {
                let j = v as usize % n;
                let (a, b) = (entries[i].offsets, entries[j].offsets);
                entries[i].offsets = b;
                entries[j].offsets = a;
            }
            Edit::Delete => {
                entries.remove(i);
            }
            Edit::LengthPrefix => prefix = Some(v),
            Edit::TruncateData => data_len = (v as usize) % (data_len + 1),
            Edit::Nudge => {
                let k = (v & 1) as usize;
                let delta = ((v >> 8) as i8) as i64;
                e.offsets[k] = e.offsets[k].wrapping_add(delta as u64);
            }
        }
    }
    let mut json = String::from("{");
    if let Some(m) = meta {
        json.push_str(&format!("\"__metadata__\":{m},"));
    }
    for e in &entries {
        let name = serde_json::to_string(&e.name).unwrap();
        json.push_str(&format!(
            "{name}:{{\"dtype\":\"{}\",\"shape\":{:?},\"data_offsets\":[{},{}]}},",
            e.dtype, e.shape, e.offsets[0], e.offsets[1]
        ));
    }
    if json.ends_with(',') {
        json.pop();
    }
    json.push('}');
    with_buf(|buf| {
        if json.len() > buf.slot {
            return;
        }
        let slot = buf.slot;
        buf.bytes[8..8 + json.len()].copy_from_slice(json.as_bytes());
        buf.bytes[8 + json.len()..8 + slot].fill(b' ');
        buf.bytes[..8].copy_from_slice(&prefix.unwrap_or(slot as u64).to_le_bytes());
        read_all(&[&buf.bytes[..8 + slot + data_len]]);
        buf.bytes[..8].copy_from_slice(&(slot as u64).to_le_bytes());
    });
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => read_all(&[rest]),
        1 => patch_real(rest),
        2 => {
            let (a, b) = match rest.iter().position(|&b| b == 0xFF) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[..0]),
            };
            read_all(&[a, b]);
        }
        _ => edit_real(rest),
    }
});
