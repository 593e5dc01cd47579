// Feature detection for the wasm builds: js/src/wasm.js loads the relaxed build (f32x4.relaxed_madd, a real FMA)
// only where the browser validates relaxed SIMD, else `pkg/` (plain SIMD128).

// (module (func (param v128 v128 v128) (result v128)
//   local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))
const RELAXED_MADD = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128 v128 v128) -> v128
  0x03, 0x02, 0x01, 0x00, // func 0 has type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, // code: 1 body of 11 bytes, no locals
  0x20, 0x00, 0x20, 0x01, 0x20, 0x02, // local.get 0 1 2
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
  0x0b, // end
]);

// (module (func (result v128) v128.const i32x4 0 0 0 0))
const SIMD128 = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
]);

/** True when this browser validates `f32x4.relaxed_madd`. */
export async function relaxedSimdSupported() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_MADD);
}

/** True when this browser validates SIMD128. */
export async function simdSupported() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD128);
}
