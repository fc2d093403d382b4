//! What a user sees while training: an indicatif progress bar over the env-step budget (with steps
//! per second and the moving average return) and a compact table row per epoch. When stderr is not
//! a terminal the bar hides itself and only the table is printed.

use crate::metrics::EpochMetrics;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress display of one training run.
pub struct Progress {
    bar: ProgressBar,
    /// Whether the bar is drawn (stderr is a terminal); otherwise rows go to stdout directly.
    drawn: bool,
    print_every: u64,
    rows: u64,
}

/// `x` with `digits` decimals, or `-` for NaN (a value that does not apply).
pub fn fmt_or_dash(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.digits$}")
    }
}

fn fmt(x: f64) -> String {
    fmt_or_dash(x, 2)
}

/// A progress bar over `len` units drawn on stderr with `template` (an indicatif template),
/// starting at `start`; hidden when `quiet`. Both `pg train` and `pg lm` draw theirs with it.
pub fn bar(len: u64, start: u64, template: &str, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_draw_target(if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_position(start);
    bar
}

impl Progress {
    /// A bar over `total_env_steps`, starting at `start_steps` (non-zero when resuming). Prints a
    /// table row every `print_every` epochs (0: never); `quiet` hides everything.
    pub fn new(total_env_steps: u64, start_steps: u64, print_every: u64, quiet: bool) -> Self {
        let bar = bar(
            total_env_steps,
            start_steps,
            "{bar:30.cyan/blue} {human_pos}/{human_len} steps  {msg}  [{elapsed_precise}<{eta_precise}]",
            quiet,
        );
        let drawn = !bar.is_hidden();
        Self {
            bar,
            drawn,
            print_every: if quiet { 0 } else { print_every },
            rows: 0,
        }
    }

    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:>6} {:>10} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>9}",
            "epoch",
            "steps",
            "eps",
            "return",
            "avg100",
            "pi_loss",
            "v_loss",
            "entropy",
            "kl",
            "ev",
            "steps/s"
        )
    }

    /// One table row.
    pub fn row(m: &EpochMetrics) -> String {
        format!(
            "{:>6} {:>10} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>9.0}",
            m.epoch,
            m.env_steps,
            m.episodes,
            fmt(m.avg_return),
            fmt(m.moving_avg_return),
            fmt(m.policy_loss),
            fmt(m.value_loss),
            fmt(m.entropy),
            if m.approx_kl.is_nan() {
                "-".into()
            } else {
                format!("{:.4}", m.approx_kl)
            },
            fmt(m.explained_variance),
            m.steps_per_second
        )
    }

    /// Updates the bar and, every `print_every` epochs, prints a row above it.
    pub fn epoch(&mut self, m: &EpochMetrics) {
        self.bar.set_position(m.env_steps);
        self.bar.set_message(format!(
            "{:.0} steps/s  avg return {}",
            m.steps_per_second,
            fmt(m.moving_avg_return)
        ));
        if self.print_every > 0 && (m.epoch.is_multiple_of(self.print_every) || m.epoch == 1) {
            if self.rows.is_multiple_of(20) {
                self.println(Self::header());
            }
            self.println(Self::row(m));
            self.rows += 1;
        }
    }

    /// Prints a line above the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.print_every == 0 {
            return;
        }
        if self.drawn {
            self.bar.println(line.as_ref());
        } else {
            println!("{}", line.as_ref());
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
