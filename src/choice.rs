//! The measured backend choice behind `auto`: a GPU adapter is used only where it is faster than this
//! build's CPU path for this model. A software (fallback) adapter — SwiftShader in headless Chromium,
//! lavapipe natively: a CPU emulating a GPU — is never chosen (it is tens to hundreds of times slower
//! than the CPU path it emulates on). On any other adapter a one-off probe times the forward of a short
//! sentence on both backends and keeps the faster; its result is cached for this process per model shape
//! (the config: weights do not change the speed) and adapter, so a second engine of the same model does
//! not probe again. [`export_cache`] / [`import_cache`] carry that cache across page loads (the page and
//! the npm package keep it in the browser's Cache API: `js/src/probes.js`), so a reload does not probe
//! again either. [`BackendChoice`] records what was chosen and why, for the page to say.

use crate::config::Config;
use crate::engine::Backend;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;

/// The text the probe classifies: a typical short review (≈ 20 tokens with a BERT vocabulary).
pub const PROBE_TEXT: &str = "a quietly moving film with two fine performances, though the last act drags on far too long";

/// GPU forwards timed after the warm-up one (which builds buffers and bind groups): the fastest counts.
pub const PROBE_GPU_RUNS: usize = 2;
/// CPU forwards timed: the fastest counts.
pub const PROBE_CPU_RUNS: usize = 2;

/// What a timed probe measured, in milliseconds per forward (batch 1, `seq` tokens).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Tokens of the probe sentence (batch 1).
    pub seq: usize,
    /// The CPU path's fastest forward, ms.
    pub cpu_ms: f64,
    /// The GPU's fastest forward after the warm-up one (submit + readback included), ms.
    pub gpu_ms: f64,
    /// The first GPU forward (buffers, bind groups, pipeline first use): not part of the comparison.
    pub gpu_first_ms: f64,
}

/// Where an engine runs and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendChoice {
    /// What the caller asked for.
    pub requested: Backend,
    /// "cpu", "webgpu", "vulkan", …
    pub runs_on: String,
    /// One sentence: why it runs there.
    pub reason: String,
    /// The GPU adapter considered (name, type, driver), when there was one.
    pub adapter: Option<String>,
    /// The adapter is a software / fallback adapter (a CPU emulating a GPU).
    pub fallback_adapter: bool,
    /// The timed probe, when one ran (or its cached result).
    pub probe: Option<Probe>,
    /// The probe's result came from this process's cache (same model shape and adapter).
    pub cached: bool,
}

impl BackendChoice {
    pub(crate) fn forced(requested: Backend, runs_on: &str, adapter: Option<String>) -> Self {
        let reason = match requested {
            Backend::Cpu => "the CPU backend was asked for".to_string(),
            _ => format!("{runs_on} was asked for (no probe)"),
        };
        Self { requested, runs_on: runs_on.into(), reason, adapter, fallback_adapter: false, probe: None, cached: false }
    }
}

/// True for adapters that are a CPU emulating a GPU: the browser's `isFallbackAdapter` (wgpu reports it
/// as `DeviceType::Cpu`), and natively lavapipe / llvmpipe / SwiftShader, which report the same type.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
}

/// The probe cache's key: the model's shape (its config) and the adapter.
pub fn cache_key(config: &Config, info: &wgpu::AdapterInfo) -> String {
    let shape = serde_json::to_string(config).unwrap_or_default();
    format!("{:?}|{}|{}|{:?}|{}|{}|{shape}", info.backend, info.vendor, info.device, info.device_type, info.name, info.driver_info)
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Probe>> = RefCell::new(HashMap::new());
}

/// The probe cached for `key` in this process (thread), if one ran.
pub fn cached(key: &str) -> Option<Probe> {
    CACHE.with(|c| c.borrow().get(key).cloned())
}

/// Cache `probe` under `key` for later engines of this process (thread).
pub fn remember(key: String, probe: Probe) {
    CACHE.with(|c| {
        c.borrow_mut().insert(key, probe);
    });
}

/// Most probes [`import_cache`] takes (one per model shape and adapter; a page has a handful).
pub const MAX_IMPORTED: usize = 256;

/// Every probe cached in this process as JSON, `{ "<cache key>": { seq, cpuMs, gpuMs, gpuFirstMs } }`,
/// for the page to keep across reloads and give back to [`import_cache`].
pub fn export_cache() -> String {
    CACHE.with(|c| serde_json::to_string(&*c.borrow()).unwrap_or_else(|_| "{}".into()))
}

/// Add the probes of an earlier [`export_cache`] (e.g. kept by the page before a reload) to this
/// process's cache; later engines of those model shapes on those adapters then reuse them instead of
/// probing. Probes already cached here are kept. JSON that is not such an object, or a probe whose times
/// are not finite and non-negative, is an error and nothing is added. Returns how many were added.
pub fn import_cache(json: &str) -> Result<usize> {
    let entries: HashMap<String, Probe> =
        serde_json::from_str(json).map_err(|e| Error::Input(format!("probe cache: not a {{ key: probe }} JSON object: {e}")))?;
    if entries.len() > MAX_IMPORTED {
        return Err(Error::Input(format!("probe cache: {} entries, more than {MAX_IMPORTED}", entries.len())));
    }
    for (k, p) in &entries {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !(ok(p.cpu_ms) && ok(p.gpu_ms) && ok(p.gpu_first_ms)) || p.seq == 0 {
            return Err(Error::Input(format!("probe cache: entry `{}` has an impossible probe {p:?}", k.chars().take(80).collect::<String>())));
        }
    }
    Ok(CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let mut added = 0;
        for (k, p) in entries {
            if let std::collections::hash_map::Entry::Vacant(slot) = c.entry(k) {
                slot.insert(p);
                added += 1;
            }
        }
        added
    }))
}

/// Forget every cached probe (tests).
pub fn clear_cache() {
    CACHE.with(|c| c.borrow_mut().clear());
}

/// Milliseconds since an arbitrary origin: `performance.now()` in the browser (window or worker),
/// `Instant` natively.
#[cfg(target_arch = "wasm32")]
/// Milliseconds since an arbitrary origin (`performance.now()`).
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
    let now = perf.as_ref().and_then(|p| js_sys::Reflect::get(p, &"now".into()).ok()).and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match (perf, now) {
        (Some(p), Some(f)) => f.call0(&p).ok().and_then(|v| v.as_f64()).unwrap_or_else(js_sys::Date::now),
        _ => js_sys::Date::now(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// Milliseconds since the first call in this process.
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// The verdict of a probe: the GPU only where it is strictly faster.
pub fn gpu_wins(p: &Probe) -> bool {
    p.gpu_ms < p.cpu_ms
}

/// The sentence the page shows for a probe's verdict.
pub fn probe_reason(p: &Probe, gpu_name: &str, cached: bool) -> String {
    let (winner, factor) = if gpu_wins(p) { (gpu_name, p.cpu_ms / p.gpu_ms.max(1e-9)) } else { ("the CPU", p.gpu_ms / p.cpu_ms.max(1e-9)) };
    format!(
        "{}timed probe (one forward of {} tokens): {gpu_name} {:.2} ms, CPU {:.2} ms — {winner} is {factor:.1}× faster",
        if cached { "cached " } else { "" },
        p.seq,
        p.gpu_ms,
        p.cpu_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_and_reason() {
        let p = Probe { seq: 20, cpu_ms: 2.0, gpu_ms: 8.0, gpu_first_ms: 30.0 };
        assert!(!gpu_wins(&p));
        let r = probe_reason(&p, "webgpu", false);
        assert!(r.contains("the CPU is 4.0× faster"), "{r}");
        let q = Probe { gpu_ms: 1.0, ..p.clone() };
        assert!(gpu_wins(&q));
        assert!(probe_reason(&q, "webgpu", true).starts_with("cached timed probe"));
        // A tie stays on the CPU (exact to PyTorch there too, and no device to lose).
        assert!(!gpu_wins(&Probe { gpu_ms: 2.0, ..p }));
    }

    #[test]
    fn cache_survives_export_and_import() {
        clear_cache();
        let p = Probe { seq: 20, cpu_ms: 2.5, gpu_ms: 0.75, gpu_first_ms: 40.0 };
        remember("model A|adapter 1".into(), p.clone());
        let kept = export_cache();
        // A reload: a fresh process with an empty cache, given back what the page kept.
        clear_cache();
        assert_eq!(cached("model A|adapter 1"), None);
        assert_eq!(import_cache(&kept).expect("import"), 1);
        assert_eq!(cached("model A|adapter 1"), Some(p.clone()));
        // Importing again adds nothing; a probe measured in this process is not overwritten.
        let newer = Probe { gpu_ms: 0.5, ..p.clone() };
        remember("model A|adapter 1".into(), newer.clone());
        assert_eq!(import_cache(&kept).expect("import"), 0);
        assert_eq!(cached("model A|adapter 1"), Some(newer));
        // Garbage and impossible probes are refused whole, with what is wrong.
        for bad in ["[1, 2]", "{\"k\": {\"seq\": 3}}", "{\"k\": {\"seq\": 3, \"cpuMs\": -1, \"gpuMs\": 1, \"gpuFirstMs\": 1}}", "not json"] {
            let e = import_cache(bad).expect_err(bad).to_string();
            assert!(e.contains("probe cache"), "{bad}: {e}");
        }
        assert_eq!(import_cache("{}").expect("empty"), 0);
        clear_cache();
    }

    #[test]
    fn now_is_monotonic() {
        let a = now_ms();
        let b = now_ms();
        assert!(b >= a && a >= 0.0);
    }
}
