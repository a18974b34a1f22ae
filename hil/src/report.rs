//! What a run measured, and the table it prints: per scenario, how many runs passed, the
//! first failure's reason, and every figure (median and worst of its runs).

#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) scenario: String,
    pub(crate) runs: u32,
    pub(crate) passed: u32,
    /// The first failure: the run it happened in and why.
    pub(crate) failure: Option<String>,
    /// (figure, values), in the order first measured.
    pub(crate) figures: Vec<(String, Vec<f64>)>,
    pub(crate) seconds: f64,
}

impl Outcome {
    pub(crate) fn figure(&mut self, name: &str, value: f64) {
        match self.figures.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value),
            None => self.figures.push((name.to_string(), vec![value])),
        }
    }

    pub(crate) fn ok(&self) -> bool {
        self.failure.is_none() && self.passed == self.runs && self.runs > 0
    }
}

/// `name median (min–max, n)`, or just the value for a single run.
fn summary(name: &str, values: &[f64]) -> String {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    if v.len() == 1 {
        format!("{name} {median:.2}")
    } else {
        format!(
            "{name} {median:.2} ({:.2}–{:.2}, n={})",
            v[0],
            v[v.len() - 1],
            v.len()
        )
    }
}

/// The table: one line per scenario, then the failures' reasons.
pub(crate) fn table(outcomes: &[Outcome]) -> String {
    let mut out =
        String::from("| scenario | result | runs | s | figures (median (min–max, n)) |\n");
    out.push_str("|---|---|---|---|---|\n");
    for o in outcomes {
        let figures: Vec<String> = o.figures.iter().map(|(n, v)| summary(n, v)).collect();
        out.push_str(&format!(
            "| {} | {} | {}/{} | {:.0} | {} |\n",
            o.scenario,
            if o.ok() { "pass" } else { "FAIL" },
            o.passed,
            o.runs,
            o.seconds,
            figures.join("; ")
        ));
    }
    for o in outcomes {
        if let Some(why) = &o.failure {
            out.push_str(&format!("\n{}: {why}\n", o.scenario));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_medians_ranges_and_the_reason_of_a_failure() {
        let mut good = Outcome {
            scenario: "power-cut".into(),
            runs: 3,
            passed: 3,
            seconds: 61.4,
            ..Outcome::default()
        };
        for v in [2.0, 1.0, 3.5] {
            good.figure("loss_s", v);
        }
        let bad = Outcome {
            scenario: "ota".into(),
            runs: 1,
            passed: 0,
            failure: Some("run 1: phase failed, not succeeded".into()),
            seconds: 9.0,
            ..Outcome::default()
        };
        let t = table(&[good, bad]);
        assert!(
            t.contains("| power-cut | pass | 3/3 | 61 | loss_s 2.00 (1.00–3.50, n=3) |"),
            "{t}"
        );
        assert!(t.contains("| ota | FAIL | 0/1 | 9 |  |"), "{t}");
        assert!(t.contains("ota: run 1: phase failed, not succeeded"), "{t}");
    }
}
