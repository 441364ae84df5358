//! The warm pool: boxes created ahead of the submissions that take them.

use kiln_sandbox::{Sandbox, SandboxBox};

use super::Engine;

impl Engine {
    pub(super) async fn take_box(
        &self,
        sandbox: &Sandbox,
    ) -> Result<SandboxBox, kiln_sandbox::SandboxError> {
        let warm = self.inner.warm.lock().expect("warm pool lock").pop();
        self.refill();
        match warm {
            Some(b) => Ok(b),
            None => sandbox.create_box(&self.inner.binds).await,
        }
    }

    /// Tops the warm pool up in the background (one refiller at a time).
    pub(super) fn refill(&self) {
        let inner = self.inner.clone();
        let Ok(sandbox) = inner.sandbox.clone() else {
            return;
        };
        if inner.cfg.warm_boxes == 0
            || inner
                .refilling
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            inner
                .refilling
                .store(false, std::sync::atomic::Ordering::Release);
            return;
        };
        rt.spawn(async move {
            while inner.warm.lock().expect("warm pool lock").len() < inner.cfg.warm_boxes {
                match sandbox.create_box(&inner.binds).await {
                    Ok(b) => inner.warm.lock().expect("warm pool lock").push(b),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not pre-create a sandbox");
                        break;
                    }
                }
            }
            inner
                .refilling
                .store(false, std::sync::atomic::Ordering::Release);
        });
    }
}
