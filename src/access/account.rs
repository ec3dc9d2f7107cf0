//! The account-level (server-wide) Block Public Access settings.
//!
//! They start from the config file's `[account_public_access_block]`; the
//! admin API (`/admin/v1/public-access-block`) may replace them, and that
//! choice is stored in the engine's system namespace (replicated like all
//! metadata), so it survives restarts and wins over the config file until it
//! is deleted again.

use std::sync::RwLock;

use policy::PublicAccessBlock;
use storage_engine::Engine;

/// Key of the stored setting in the engine's system namespace.
const SYSTEM_KEY: &str = "config/account-public-access-block";

#[derive(Debug)]
pub struct AccountPublicAccessBlock {
    from_config: PublicAccessBlock,
    current: RwLock<PublicAccessBlock>,
}

impl AccountPublicAccessBlock {
    /// The stored setting if there is one, else the config file's.
    pub async fn load(engine: &Engine, from_config: PublicAccessBlock) -> std::io::Result<Self> {
        let stored = engine.system_get(SYSTEM_KEY).await.map_err(|e| std::io::Error::other(e.to_string()))?;
        let current = match stored {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("stored {SYSTEM_KEY}: {e}"))
            })?,
            None => from_config,
        };
        Ok(AccountPublicAccessBlock { from_config, current: RwLock::new(current) })
    }

    pub fn get(&self) -> PublicAccessBlock {
        *self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores and applies new settings (durable before they apply).
    pub async fn set(&self, engine: &Engine, value: PublicAccessBlock) -> Result<(), String> {
        let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
        engine.system_put(SYSTEM_KEY, bytes).await.map_err(|e| e.to_string())?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = value;
        Ok(())
    }

    /// Forgets the stored settings: the config file's apply again.
    pub async fn reset(&self, engine: &Engine) -> Result<PublicAccessBlock, String> {
        engine.system_delete(SYSTEM_KEY).await.map_err(|e| e.to_string())?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = self.from_config;
        Ok(self.from_config)
    }
}
