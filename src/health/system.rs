//! CPU, memory and temperature from sysinfo.

use sysinfo::{Components, System};

pub struct SystemMetrics {
    sys: System,
    components: Components,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub cpu_percent: f64,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub temperature_c: Option<f64>,
}

impl SystemMetrics {
    pub fn new() -> Self {
        let mut sys = System::new();
        sys.refresh_cpu_usage();
        SystemMetrics {
            sys,
            components: Components::new_with_refreshed_list(),
        }
    }

    /// CPU use since the previous sample.
    pub fn sample(&mut self) -> Sample {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        self.components.refresh(false);
        // The SoC sensor: cpu_thermal on a Pi, "CPU-therm"/"cpu" zones on a Jetson; else the
        // hottest sensor there is. Boards without one report none.
        let temps: Vec<(String, f32)> = self
            .components
            .iter()
            .filter_map(|c| {
                c.temperature()
                    .filter(|t| t.is_finite())
                    .map(|t| (c.label().to_ascii_lowercase(), t))
            })
            .collect();
        let temperature_c = temps
            .iter()
            .find(|(l, _)| l.contains("cpu"))
            .or_else(|| temps.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
            .map(|(_, t)| (f64::from(*t) * 10.0).round() / 10.0);
        Sample {
            cpu_percent: (f64::from(self.sys.global_cpu_usage()) * 10.0).round() / 10.0,
            mem_used_bytes: self.sys.used_memory(),
            mem_total_bytes: self.sys.total_memory(),
            temperature_c,
        }
    }
}

impl Default for SystemMetrics {
    fn default() -> Self {
        Self::new()
    }
}
