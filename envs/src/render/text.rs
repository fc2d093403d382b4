//! Text pictures for the terminal: a few lines of ASCII per frame.

/// A cart on a track and its pole, `width` characters wide.
///
/// `pos` is the cart position scaled to `[-1, 1]` across the track; `theta` the pole angle
/// (positive leaning right). The pole is drawn over three rows above the cart.
pub fn cart_and_pole(pos: f64, theta: f64, width: usize) -> String {
    let width = width.max(5);
    let centre = column(pos, width);
    let mut rows = Vec::new();
    for k in (1..=3).rev() {
        // Horizontal offset of the pole at height k: k·tan θ, two columns per row height.
        let dx = (2.0 * k as f64 * theta.tan())
            .round()
            .clamp(-(width as f64), width as f64) as isize;
        let c = (centre as isize + dx).clamp(0, width as isize - 1) as usize;
        let ch = if theta > 0.05 {
            '/'
        } else if theta < -0.05 {
            '\\'
        } else {
            '|'
        };
        rows.push(row_with(width, c, ch));
    }
    rows.push(row_with(width, centre, '#'));
    rows.push("=".repeat(width));
    rows.join("\n") + "\n"
}

/// Column of a position scaled to `[-1, 1]` in a row of `width` characters.
fn column(pos: f64, width: usize) -> usize {
    let p = if pos.is_finite() {
        pos.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    (((p + 1.0) / 2.0) * (width - 1) as f64).round() as usize
}

fn row_with(width: usize, col: usize, ch: char) -> String {
    (0..width)
        .map(|i| if i == col { ch } else { ' ' })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// A grid of characters with helpers to plot points given in `[-1, 1]²` (y up).
#[derive(Debug, Clone)]
pub struct Canvas {
    w: usize,
    h: usize,
    cells: Vec<char>,
}

impl Canvas {
    /// A blank canvas of `w × h` characters.
    pub fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            cells: vec![' '; w * h],
        }
    }

    /// Put `ch` at the point `(x, y)` in `[-1, 1]²`, y up; points outside are dropped.
    pub fn plot(&mut self, x: f64, y: f64, ch: char) {
        if !(x.is_finite() && y.is_finite()) || x.abs() > 1.0 || y.abs() > 1.0 {
            return;
        }
        let c = (((x + 1.0) / 2.0) * (self.w - 1) as f64).round() as usize;
        let r = (((1.0 - y) / 2.0) * (self.h - 1) as f64).round() as usize;
        self.cells[r * self.w + c] = ch;
    }

    /// Draw a segment from `a` to `b` by plotting points along it.
    pub fn segment(&mut self, a: (f64, f64), b: (f64, f64), ch: char) {
        let steps = 2 * self.w.max(self.h);
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            self.plot(a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1), ch);
        }
    }

    /// The canvas as lines, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in 0..self.h {
            let row: String = self.cells[r * self.w..(r + 1) * self.w].iter().collect();
            out += row.trim_end();
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cart_sits_at_its_scaled_position() {
        let pic = cart_and_pole(0.0, 0.0, 21);
        let cart_row = pic.lines().nth(3).unwrap();
        assert_eq!(cart_row.find('#'), Some(10));
        let right = cart_and_pole(1.0, 0.0, 21);
        assert_eq!(right.lines().nth(3).unwrap().find('#'), Some(20));
    }

    #[test]
    fn canvas_plots_corners() {
        let mut c = Canvas::new(5, 3);
        c.plot(-1.0, 1.0, 'a');
        c.plot(1.0, -1.0, 'b');
        assert_eq!(c.render(), "a\n\n    b\n");
    }
}
