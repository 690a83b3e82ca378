//! Tables that fit the terminal: the width to fit (`COLUMNS`, else the terminal's, else none
//! for piped output), and the layout of a table's columns within it. A table that is too
//! wide gives up room in the order its [`Plan`] says (the title first, never the feed name
//! before it), then drops its least useful columns; what is left over after that goes back
//! to the columns that gave it up, the last one first. Cells are cut with
//! [`crate::text::fit_width`], so a cut is marked with an ellipsis and never splits a
//! character.

use std::io::{self, IsTerminal as _, Write};

use crate::text::{columns, fit_width};

/// The widest a cell is shown when nothing else limits it (piped output): a title of
/// megabytes must not make a line of megabytes.
pub(super) const MAX_CELL_COLUMNS: usize = 200;

/// Room between two columns.
const GAP: usize = 2;

/// The width tables must fit: `$COLUMNS` when it is a positive number, else the width of the
/// terminal on stdout, else `None` (stdout is a pipe or a file: full width, for scripts).
pub(super) fn terminal_width() -> Option<usize> {
    width_from(std::env::var("COLUMNS").ok().as_deref(), || {
        let stdout = io::stdout();
        if !stdout.is_terminal() {
            return None;
        }
        // A terminal that does not say its size is taken as the classic 80 columns.
        let columns = rustix::termios::tcgetwinsize(&stdout).map_or(0, |size| size.ws_col);
        Some(if columns == 0 {
            80
        } else {
            usize::from(columns)
        })
    })
}

/// [`terminal_width`] from the value of `COLUMNS` and a way to ask the terminal.
fn width_from(
    columns_variable: Option<&str>,
    terminal: impl FnOnce() -> Option<usize>,
) -> Option<usize> {
    columns_variable
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|&width| width > 0)
        .or_else(terminal)
}

/// One way a table makes itself narrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Cut the column to at most this many terminal columns.
    Shrink(usize, usize),
    /// Leave the column out.
    Drop(usize),
}

/// How a table gives up width, in order, until it fits; and which of its columns are never
/// cut when the table is not fitted to a terminal (links, which a cut would break).
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub steps: &'static [Step],
    pub uncapped: &'static [usize],
}

/// Where each column of a table goes: its width, or `None` when it is left out; and whether
/// it was fitted to a width (else the last column is never cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout<const N: usize> {
    pub widths: [Option<usize>; N],
    fitted: bool,
}

impl<const N: usize> Layout<N> {
    /// The layout of a header and its rows in `width` terminal columns (`None`: as wide as
    /// the widest cells, each at most [`MAX_CELL_COLUMNS`] unless the plan leaves it uncapped).
    pub fn of(
        header: &[String; N],
        rows: &[[String; N]],
        width: Option<usize>,
        plan: &Plan,
    ) -> Layout<N> {
        let mut natural = header.clone().map(|h| columns(&h));
        for row in rows {
            for (widest, cell) in natural.iter_mut().zip(row) {
                *widest = (*widest).max(columns(cell));
            }
        }
        for (column, widest) in natural.iter_mut().enumerate() {
            if !plan.uncapped.contains(&column) {
                *widest = (*widest).min(MAX_CELL_COLUMNS);
            }
        }
        Layout::within(natural, width, plan)
    }

    /// The layout of columns whose natural widths are given, in `width` terminal columns.
    pub fn within(natural: [usize; N], width: Option<usize>, plan: &Plan) -> Layout<N> {
        let mut layout = Layout {
            widths: natural.map(Some),
            fitted: width.is_some(),
        };
        let Some(width) = width else {
            return layout;
        };
        // Give up room step by step until the table fits.
        let mut shrunk: Vec<usize> = Vec::new();
        for step in plan.steps {
            if layout.total() <= width {
                break;
            }
            match *step {
                Step::Shrink(column, to) => {
                    if let Some(current) = &mut layout.widths[column]
                        && *current > to
                    {
                        *current = to.max(1);
                        shrunk.retain(|&c| c != column);
                        shrunk.push(column);
                    }
                }
                Step::Drop(column) => {
                    layout.widths[column] = None;
                    shrunk.retain(|&c| c != column);
                }
            }
        }
        // What is left over goes back to the columns that gave it up, the last one first.
        for &column in shrunk.iter().rev() {
            let spare = width.saturating_sub(layout.total());
            if let Some(current) = &mut layout.widths[column] {
                *current += spare.min(natural[column] - *current);
            }
        }
        layout
    }

    /// How many terminal columns a full line takes.
    pub fn total(&self) -> usize {
        let kept: Vec<usize> = self.widths.iter().flatten().copied().collect();
        kept.iter().sum::<usize>() + GAP * kept.len().saturating_sub(1)
    }

    /// One line: the kept cells cut to their widths and padded, two spaces apart; the last
    /// one is not padded (nor cut, when the table is not fitted to a width).
    pub fn line(&self, row: &[String; N]) -> String {
        let kept: Vec<(usize, &String)> = self
            .widths
            .iter()
            .zip(row)
            .filter_map(|(width, cell)| width.map(|width| (width, cell)))
            .collect();
        let mut line = String::new();
        for (i, (width, cell)) in kept.iter().enumerate() {
            let last = i + 1 == kept.len();
            let cell = if last && !self.fitted {
                (*cell).clone()
            } else {
                fit_width(cell, *width)
            };
            line.push_str(&cell);
            if !last {
                line.push_str(&" ".repeat(width.saturating_sub(columns(&cell)) + GAP));
            }
        }
        line.trim_end().to_string()
    }
}

/// A header and rows laid out in `width` by `plan`.
pub(super) fn write_table<const N: usize>(
    out: &mut impl Write,
    header: &[String; N],
    rows: &[[String; N]],
    width: Option<usize>,
    plan: &Plan,
) -> io::Result<()> {
    let layout = Layout::of(header, rows, width, plan);
    for row in std::iter::once(header).chain(rows) {
        writeln!(out, "{}", layout.line(row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: Plan = Plan {
        steps: &[Step::Shrink(2, 10), Step::Drop(3), Step::Shrink(1, 4)],
        uncapped: &[3],
    };

    fn row(cells: [&str; 4]) -> [String; 4] {
        cells.map(String::from)
    }

    #[test]
    fn the_width_is_columns_else_the_terminal_else_none() {
        assert_eq!(width_from(Some("80"), || Some(120)), Some(80));
        assert_eq!(width_from(Some(" 100 "), || None), Some(100));
        assert_eq!(width_from(Some("0"), || Some(120)), Some(120));
        assert_eq!(width_from(Some("wide"), || None), None);
        assert_eq!(width_from(None, || Some(132)), Some(132));
        assert_eq!(width_from(None, || None), None);
    }

    #[test]
    fn a_table_that_fits_is_left_alone() {
        let header = row(["ID", "FEED", "TITLE", "URL"]);
        let rows = [row(["1", "Wire", "A title", "https://e.example/a"])];
        let layout = Layout::of(&header, &rows, Some(80), &PLAN);
        assert_eq!(layout.widths, [Some(2), Some(4), Some(7), Some(19)]);
        assert_eq!(
            layout.line(&rows[0]),
            "1   Wire  A title  https://e.example/a"
        );
    }

    #[test]
    fn the_title_gives_way_first_and_gets_back_what_is_left() {
        let header = row(["ID", "FEED", "TITLE", "URL"]);
        let rows = [row([
            "1",
            "Seoul Courier",
            "North Korea says spy satellite reached orbit",
            "https://e.example/a",
        ])];
        // Natural: 2 + 13 + 44 + 19 + 6 = 84. The title is cut first, to 10 (49); the link
        // still does not fit, so it goes (27); the title gets back what is left (up to 40).
        let layout = Layout::of(&header, &rows, Some(40), &PLAN);
        assert_eq!(layout.widths, [Some(2), Some(13), Some(21), None]);
        let line = layout.line(&rows[0]);
        assert_eq!(line, "1   Seoul Courier  North Korea says spy…");
        assert!(columns(&line) <= 40);
        // Wide enough for everything but a part of the title.
        let layout = Layout::of(&header, &rows, Some(80), &PLAN);
        assert_eq!(layout.widths, [Some(2), Some(13), Some(40), Some(19)]);
        assert_eq!(layout.total(), 80);
    }

    #[test]
    fn unfitted_tables_cap_cells_but_not_links() {
        let long_title = "t".repeat(500);
        let long_link = format!("https://e.example/{}", "a".repeat(500));
        let header = row(["ID", "FEED", "TITLE", "URL"]);
        let rows = [row(["1", "Wire", &long_title, &long_link])];
        let layout = Layout::of(&header, &rows, None, &PLAN);
        assert_eq!(layout.widths[2], Some(MAX_CELL_COLUMNS));
        let line = layout.line(&rows[0]);
        assert!(line.ends_with(&long_link), "{line}");
        assert!(line.contains(&format!("{}…", "t".repeat(MAX_CELL_COLUMNS - 1))));
    }

    #[test]
    fn wide_characters_count_twice() {
        let header = row(["ID", "FEED", "TITLE", "URL"]);
        let rows = [row(["1", "연합", "북한 정찰위성 발사 성공 주장", "-"])];
        let layout = Layout::of(&header, &rows, Some(30), &PLAN);
        let line = layout.line(&rows[0]);
        assert!(columns(&line) <= 30, "{line}");
        assert!(line.contains("북한 정찰위성 …"), "{line}");
    }
}
