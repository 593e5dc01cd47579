//! safetensors weights loader: arbitrary bytes, and structured mutations of a real header.
//!
//! Input: `mode, rest`. Mode (byte 0, mod 3):
//! - 0: `rest` is a whole safetensors file.
//! - 1: the real `tests/fixtures/models/prenorm-gelu/model.safetensors` with `rest` read as patches
//!   `(offset u16 LE, len u8, bytes…)` over its first 8 + header-length bytes (the length prefix and the
//!   JSON header: offsets, shapes, dtypes, names, sizes that overflow).
//! - 2: `rest` split at the first 0xFF into two files loaded together with `Weights::from_parts`.
//!
//! When a file loads, every tensor is read with `get_stored` and `get` at its own shape (and once at a
//! wrong one): Ok or Err, never a panic.
#![no_main]

use encoder_lens::weights::Weights;
use libfuzzer_sys::fuzz_target;
use safetensors::SafeTensors;

const REAL: &[u8] = include_bytes!("../../tests/fixtures/models/prenorm-gelu/model.safetensors");

fn read_all(parts: &[&[u8]]) {
    let Ok(w) = Weights::from_parts(parts) else { return };
    for p in parts {
        let Ok(st) = SafeTensors::deserialize(p) else { continue };
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let a = w.get_stored(&name, &shape);
            let b = w.get(&name, &shape);
            assert_eq!(a.is_ok(), b.is_ok(), "get_stored and get disagree on `{name}`");
            let mut wrong = shape.clone();
            wrong.push(1);
            assert!(w.get_stored(&name, &wrong).is_err(), "`{name}` read at a wrong shape");
        }
    }
    assert!(w.get_stored("no such tensor", &[1]).is_err());
    let _ = w.names();
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => read_all(&[rest]),
        1 => {
            let header_len = u64::from_le_bytes(REAL[..8].try_into().unwrap()) as usize;
            let span = 8 + header_len;
            let mut file = REAL.to_vec();
            let mut p = rest;
            while p.len() >= 3 {
                let off = u16::from_le_bytes([p[0], p[1]]) as usize % span;
                let len = (p[2] as usize).min(p.len() - 3);
                let bytes = &p[3..3 + len];
                let end = (off + len).min(span);
                file[off..end].copy_from_slice(&bytes[..end - off]);
                p = &p[3 + len..];
            }
            read_all(&[&file]);
        }
        _ => {
            let (a, b) = match rest.iter().position(|&b| b == 0xFF) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[..0]),
            };
            read_all(&[a, b]);
        }
    }
});
