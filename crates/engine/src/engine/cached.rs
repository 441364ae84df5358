//! The compile step with the compile cache: the plan, the key and a usable
//! cached entry before the compile; the outcome cached after it.

use std::sync::Arc;

use kiln_lang::Language;
use kiln_sandbox::SandboxBox;

use super::{env_of, Engine, PendingPut};
use crate::assets::Ready;
use crate::cache::{Entry, Key};
use crate::compile::{self, compile_units, CompileFacts, CompilePlan};
use crate::types::{Report, Submission};

/// How the compile step goes for one submission.
pub(super) struct Compile {
    pub(super) plan: CompilePlan,
    /// Its cache key, with a cache.
    pub(super) key: Option<Key>,
    /// A usable cached success: its facts and output used, and the entry.
    pub(super) hit: Option<((CompileFacts, u64), Entry)>,
    /// The toolchain asset the compile uses, held (not evicted) until it ends.
    pub(super) _asset: Option<Arc<Ready>>,
}

impl Engine {
    /// The compile step's plan and, with the cache, its key and a usable
    /// entry; `Err` is the report of a cached `compilation_error`.
    pub(super) async fn prepare_compile(
        &self,
        lang: &Language,
        sub: &Submission,
    ) -> Result<Option<Compile>, Box<Report>> {
        let cl = sub.compile_limits.apply(self.inner.cfg.compile_limits);
        if !sub.compiler_options.is_empty() && !lang.accepts_compiler_options() {
            let mut r = Report::internal_error("");
            r.status = crate::types::Status::CompilationError;
            r.message = Some(format!(
                "{} takes no compiler options (compiler_options is for compiled languages)",
                lang.id
            ));
            return Err(Box::new(r));
        }
        let names = compile_units(lang, sub);
        let asset = match (&self.inner.assets, self.inner.toolchains.get(&lang.id)) {
            (Some(a), Some(t)) => a.for_compile(lang, t, sub, &names),
            _ => None,
        };
        let mut options = sub.compiler_options.clone();
        options.extend(asset.iter().flat_map(|u| u.options.iter().cloned()));
        let asset = asset.map(|u| u.held);
        let Some(plan) = CompilePlan::new(
            lang,
            &names,
            &env_of(lang),
            (&cl, &options),
            sub.limits.output_bytes,
        ) else {
            return Ok(None);
        };
        let (Some(cache), Some(toolchain)) = (
            self.inner.cache.clone(),
            self.inner.toolchains.get(&lang.id),
        ) else {
            return Ok(Some(Compile {
                plan,
                key: None,
                hit: None,
                _asset: asset,
            }));
        };
        let key = plan.key(lang, toolchain, &sub.files, &self.inner.cfg.sandbox);
        let c = cache.clone();
        let found = tokio::task::spawn_blocking(move || c.get(&key))
            .await
            .ok()
            .flatten()
            // Over this submission's output cap, that compile would have
            // been stopped: not a hit.
            .filter(|e| (e.stdout.len() + e.stderr.len()) as u64 <= plan.limits.output_bytes);
        cache.count(&lang.id, found.is_some());
        let hit = match found {
            None => None,
            Some(e) => Some((
                compile::judge(compile::outcome_of(&e), &plan, &cl, true)?,
                e,
            )),
        };
        Ok(Some(Compile {
            plan,
            key: Some(key),
            hit,
            _asset: asset,
        }))
    }

    /// Caches a compile's outcome (and, after a success, its artifacts,
    /// read from the box before any program runs): the entry is written in
    /// the background.
    pub(super) async fn store(
        &self,
        b: &SandboxBox,
        key: Key,
        o: &kiln_sandbox::ExecOutcome,
        files: &[crate::types::SourceFile],
    ) -> Option<PendingPut> {
        let cache = self.inner.cache.clone()?;
        let (artifacts, removed) = if o.success() {
            compile::collect(b, files, cache.max_entry_bytes()).await?
        } else {
            (Vec::new(), Vec::new())
        };
        let entry: Entry = compile::entry_of(o, artifacts, removed)?;
        Some(tokio::task::spawn_blocking(move || {
            if cache.put(&key, &entry) {
                // Not awaited with the submission: a scan of a large cache
                // must not hold its slot.
                tokio::task::spawn_blocking(move || cache.scan_and_evict());
            }
        }))
    }
}
