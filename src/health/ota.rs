//! Where an update stands, as the retained MQTT `ota` topic and Home Assistant's `update`
//! entity read it. The OTA component writes it; MQTT publishes every change.

use serde::Serialize;

/// The steps of an update, and how the last one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtaPhase {
    Idle,
    Downloading,
    Installing,
    /// Installed into the other slot; waiting for the open segments to close, then rebooting.
    Rebooting,
    /// Booted into the new slot; the commit gate is watching.
    Verifying,
    Committed,
    RolledBack,
    Refused,
    Failed,
}

impl OtaPhase {
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            OtaPhase::Downloading
                | OtaPhase::Installing
                | OtaPhase::Rebooting
                | OtaPhase::Verifying
        )
    }
}

/// The JSON keys are Home Assistant's MQTT `update` state keys, plus camvault's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtaStatus {
    pub state: OtaPhase,
    pub installed_version: String,
    /// The newest version offered (an `ota/latest` announcement or the last command).
    pub latest_version: String,
    pub in_progress: bool,
    pub update_percentage: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_url: Option<String>,
    /// Why it was refused, failed or rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl OtaStatus {
    pub fn idle(installed: &str) -> OtaStatus {
        OtaStatus {
            state: OtaPhase::Idle,
            installed_version: installed.to_string(),
            latest_version: installed.to_string(),
            in_progress: false,
            update_percentage: None,
            release_url: None,
            reason: None,
        }
    }

    pub fn with(&self, state: OtaPhase, percent: Option<u8>, reason: Option<String>) -> OtaStatus {
        OtaStatus {
            state,
            in_progress: state.in_progress(),
            update_percentage: percent,
            reason,
            ..self.clone()
        }
    }
}
