//! The topic layout of DESIGN.md: everything under `<prefix>/<device_id>/`.

#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
    base: String,
}

impl Topics {
    pub fn new(prefix: &str, device_id: &str) -> Self {
        Topics {
            prefix: prefix.to_string(),
            base: format!("{prefix}/{device_id}"),
        }
    }

    pub fn availability(&self) -> String {
        format!("{}/availability", self.base)
    }

    pub fn state(&self) -> String {
        format!("{}/state", self.base)
    }

    pub fn event(&self) -> String {
        format!("{}/event", self.base)
    }

    /// The newest snapshot of a camera as raw JPEG bytes, retained: the image of the Home
    /// Assistant MQTT camera entity.
    pub fn image(&self, camera: &str) -> String {
        format!("{}/camera/{camera}/image", self.base)
    }

    /// When the camera's newest segment ended (RFC 3339), retained; published only once there
    /// is one, so Home Assistant's timestamp sensor never sees "none".
    pub fn last_segment(&self, camera: &str) -> String {
        format!("{}/camera/{camera}/last_segment", self.base)
    }

    /// Where an update stands (retained JSON): Home Assistant's `update` entity reads it.
    pub fn ota(&self) -> String {
        format!("{}/ota", self.base)
    }

    /// The fleet's update announcement, retained by whoever publishes releases:
    /// `{version, url, sha256, release_url}` for every device under the prefix.
    pub fn ota_latest(&self) -> String {
        format!("{}/ota/latest", self.prefix)
    }

    /// What we subscribe to: `cmd/<name>` (one level, so our own replies are not matched).
    pub fn commands(&self) -> String {
        format!("{}/cmd/+", self.base)
    }

    pub fn command(&self, name: &str) -> String {
        format!("{}/cmd/{name}", self.base)
    }

    pub fn reply(&self, name: &str) -> String {
        format!("{}/cmd/{name}/reply", self.base)
    }

    /// The command name of a `cmd/<name>` topic.
    pub fn command_name<'a>(&self, topic: &'a str) -> Option<&'a str> {
        let rest = topic
            .strip_prefix(self.base.as_str())?
            .strip_prefix("/cmd/")?;
        (!rest.is_empty() && !rest.contains('/')).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let t = Topics::new("camvault", "cv-1");
        assert_eq!(t.state(), "camvault/cv-1/state");
        assert_eq!(t.ota(), "camvault/cv-1/ota");
        assert_eq!(t.ota_latest(), "camvault/ota/latest");
        assert_eq!(t.commands(), "camvault/cv-1/cmd/+");
        assert_eq!(t.reply("status"), "camvault/cv-1/cmd/status/reply");
        assert_eq!(t.command_name("camvault/cv-1/cmd/status"), Some("status"));
        assert_eq!(t.command_name("camvault/cv-1/cmd/status/reply"), None);
        assert_eq!(t.command_name("camvault/cv-2/cmd/status"), None);
    }
}
