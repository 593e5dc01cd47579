//! Every `shaders/*.wgsl` parses and validates with naga (the WGSL front end wgpu uses) — no GPU needed —
//! and declares exactly the bindings and params size its `Kernel` registration says.
#![cfg(not(target_arch = "wasm32"))]

use encoder_lens::gpu::ops::{Access, Kernel};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, StorageAccess};

fn validate(name: &str, src: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    module
}

#[test]
fn every_shader_file_is_valid_wgsl_and_registered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("shaders/ exists")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    files.sort();
    let mut registered: Vec<String> = Kernel::ALL.iter().map(|k| k.file().to_string()).collect();
    registered.sort();
    assert_eq!(files, registered, "shaders/ and Kernel::ALL disagree");
    for f in &files {
        let src = std::fs::read_to_string(format!("{dir}/{f}")).expect("read shader");
        // What the GPU compiles: the file without its comments and indentation (build.rs), with the shared
        // functions of shaders/include/ it uses prepended.
        let kernel = Kernel::ALL.iter().find(|k| k.file() == f).expect("registered");
        let code: String =
            src.lines().map(|l| l.split("//").next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
        assert!(kernel.source().ends_with(&code), "{f}: the compiled source does not end with the file's code");
        assert!(!kernel.source().contains("//"), "{f}: comments left in the compiled source");
        validate(f, kernel.source());
        // A header: the file starts with a comment saying what it computes, layouts, dispatch, bindings.
        let header: String = src.lines().take_while(|l| l.starts_with("//")).collect::<Vec<_>>().join("\n");
        for word in ["Layouts", "Dispatch", "Bindings"] {
            assert!(header.contains(word), "{f}: header lacks `{word}`");
        }
    }
}

#[test]
fn shader_bindings_match_the_kernel_registry() {
    for k in Kernel::ALL {
        let m = validate(k.file(), k.source());
        assert_eq!(k.entries().first(), Some(&"main"), "{}: `main` must be the first entry point", k.file());
        for name in k.entries() {
            let ep = m.entry_points.iter().find(|e| e.name == *name).unwrap_or_else(|| panic!("{}: no `{name}`", k.file()));
            assert_eq!(ep.stage, naga::ShaderStage::Compute, "{}: {name}", k.file());
            let invocations: u32 = ep.workgroup_size.iter().product();
            // WebGPU guarantees 256 invocations per workgroup on every adapter.
            assert!(invocations <= 256, "{}: {name} has {invocations} invocations per workgroup", k.file());
        }
        let unregistered: Vec<&str> =
            m.entry_points.iter().map(|e| e.name.as_str()).filter(|n| !k.entries().contains(n)).collect();
        assert!(unregistered.is_empty(), "{}: entry points not registered: {unregistered:?}", k.file());
        let mut seen = vec![false; k.storage().len() + 1];
        for (_, var) in m.global_variables.iter() {
            let Some(rb) = &var.binding else { continue };
            assert_eq!(rb.group, 0, "{}: {:?}", k.file(), var.name);
            let i = rb.binding as usize;
            assert!(i < seen.len(), "{}: binding {i} not registered", k.file());
            seen[i] = true;
            if i == 0 {
                assert_eq!(var.space, AddressSpace::Uniform, "{}: binding 0 must be the params uniform", k.file());
                let size = m.types[var.ty].inner.size(m.to_ctx()) as usize;
                assert_eq!(size, k.params_size(), "{}: params size in WGSL vs its Pod struct", k.file());
            } else {
                let AddressSpace::Storage { access } = var.space else { panic!("{}: binding {i} is not storage", k.file()) };
                let want_write = k.storage()[i - 1] == Access::ReadWrite;
                assert_eq!(access.contains(StorageAccess::STORE), want_write, "{}: binding {i} access", k.file());
            }
        }
        assert!(seen.iter().all(|&s| s), "{}: registered binding missing in WGSL: {seen:?}", k.file());
    }
}

/// The int8 matmul's two inner products — `dot4I8Packed` (where WGSL's packed_4x8_integer_dot_product is
/// there) and the shift-unpack path — validate, and differ only in the prepended `dot4`.
#[test]
fn int8_matmul_validates_with_either_dot4() {
    use encoder_lens::gpu::ops::matmul_int8::SOURCE_PACKED;
    let (unpack, packed) = (Kernel::MatmulInt8.source_on(false), Kernel::MatmulInt8.source_on(true));
    assert_eq!(packed, SOURCE_PACKED);
    assert_eq!(unpack, Kernel::MatmulInt8.source());
    for (name, src) in [("matmul_int8.wgsl (unpack)", unpack), ("matmul_int8.wgsl (dot4I8Packed)", packed)] {
        let m = validate(name, src);
        let dot4 = m.functions.iter().find(|(_, f)| f.name.as_deref() == Some("dot4")).map(|(_, f)| f).expect("dot4");
        let packed_call = dot4.expressions.iter().any(|(_, e)| matches!(e, naga::Expression::Math { fun: naga::MathFunction::Dot4I8Packed, .. }));
        assert_eq!(packed_call, src == packed, "{name}: dot4I8Packed used iff the packed variant");
    }
    assert!(packed.starts_with("requires packed_4x8_integer_dot_product;"), "the packed variant names its language feature first");
    // Past their dot4 the two sources are the same text.
    let tail = |s: &'static str| &s[s.find("fn activate").expect("activate")..];
    assert_eq!(tail(unpack), tail(packed));
    for k in Kernel::ALL.iter().filter(|&&k| k != Kernel::MatmulInt8) {
        assert_eq!(k.source_on(true), k.source(), "{k:?}: only the int8 matmul has a packed variant");
    }
}
