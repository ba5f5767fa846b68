//! Terminal tables with aligned columns, and numbers with `_` thousands separators (the
//! published CLI's style).

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: flush left.
    Left,
    /// Numbers: flush right, so their digits line up.
    Right,
}

/// A table: a header row, a dashed rule, then the rows, columns two spaces apart.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and alignments.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            columns: columns
                .iter()
                .map(|(name, align)| ((*name).to_owned(), *align))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
    }

    /// The rendered table, each line ending in `\n`, with no trailing spaces.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                self.rows
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([name.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate() {
                let (_, align) = self.columns[i];
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(if i == 0 { " " } else { "  " });
                match align {
                    Align::Left => {
                        out.push_str(cell);
                        out.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(cell);
                    }
                }
            }
            let mut out = out.trim_end().to_owned();
            out.push('\n');
            out
        };
        let total: usize = 1 + widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        let mut out = line(&mut self.columns.iter().map(|(name, _)| name.as_str()));
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }
}

/// `1234567` → `1_234_567`; negative numbers keep their sign.
pub fn thousands(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(digit);
    }
    out
}

/// [`thousands`] for unsigned counters.
pub fn thousands_u64(n: u64) -> String {
    thousands(i128::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1_000");
        assert_eq!(thousands(20_000), "20_000");
        assert_eq!(thousands(1_234_567), "1_234_567");
        assert_eq!(thousands(-1_234), "-1_234");
        assert_eq!(thousands(-999), "-999");
        assert_eq!(thousands_u64(u64::MAX), "18_446_744_073_709_551_615");
    }

    #[test]
    fn columns_are_aligned() {
        let mut table = Table::new(&[("name", Align::Left), ("r_frames", Align::Right)]);
        table.row(vec![".broker".into(), thousands(10)]);
        table.row(vec!["a-long-client".into(), thousands(1_234_567)]);
        table.row(vec!["x".into()]);
        let expected = concat!(
            " name            r_frames\n",
            "-------------------------\n",
            " .broker               10\n",
            " a-long-client  1_234_567\n",
            " x\n",
        );
        assert_eq!(table.render(), expected);
    }
}
