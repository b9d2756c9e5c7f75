//! The suite's output: the header (machine and each engine's settings), the table, the
//! ratios of FerrisDB over each peer, and the SVG chart.
//!
//! With `--repeat N` the report holds N rounds. The table then shows, for each engine and
//! workload, the run with the median ops/s; each ratio is the median of the ratios
//! measured within one round, FerrisDB against the peer run just before or after it, and
//! the rounds' own ratios are printed after it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::SuiteReport;
use crate::workload::{Measurement, State, Workload};

const FERRIS: &str = "ferrisdb";

/// Prints what the run is about to measure, and where.
pub(crate) fn print_header(report: &SuiteReport, dir: &Path) {
    println!("FerrisDB db_bench");
    println!("machine: {}; directory: {}", report.machine, dir.display());
    println!("options: {}", report.args.join(" "));
    for (engine, settings) in &report.engines {
        println!("  {engine}: {settings}");
    }
    if let Some(reads) = report.disk_reads_per_second {
        println!(
            "disk: {reads:.0} random 4 KiB reads/s (O_DIRECT, as many in flight as --threads): \
             the most point reads per second that miss memory can reach"
        );
    }
    println!();
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

/// One row of the table: a workload, and for a read workload the state it ran in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    workload: Workload,
    state: Option<State>,
}

impl Row {
    fn of(m: &Measurement) -> Row {
        Row {
            workload: m.workload,
            state: m.state,
        }
    }

    /// The workload's name, and the state's after it.
    fn label(self) -> String {
        match self.state {
            Some(state) => format!("{} {}", self.workload.name(), state.name()),
            None => self.workload.name().to_owned(),
        }
    }
}

/// The rows the report has measurements for, in suite order, a read workload's fresh
/// row before its settled one.
fn rows(report: &SuiteReport) -> Vec<Row> {
    let states = [None, Some(State::Fresh), Some(State::Settled)];
    Workload::ALL
        .into_iter()
        .flat_map(|workload| states.map(|state| Row { workload, state }))
        .filter(|row| report.measurements.iter().any(|m| Row::of(m) == *row))
        .collect()
}

/// Prints one row per workload per engine, then FerrisDB's ops/s over each peer's.
pub fn print_table(report: &SuiteReport) {
    let rounds = rounds(report);
    if rounds > 1 {
        println!("each row: the engine's median run of {rounds} rounds");
    }
    println!(
        "{:<24} {:<9} {:>11} {:>8} {:>9} {:>9} {:>9} {:>6} {:>6} {:>9}  notes",
        "workload",
        "engine",
        "ops/s",
        "MB/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "w-amp",
        "s-amp",
        "peak RSS"
    );
    let rows = rows(report);
    for &row in &rows {
        let runs: Vec<&Measurement> = report
            .engines
            .iter()
            .filter_map(|(engine, _)| median_run(report, engine, row))
            .collect();
        for (i, m) in runs.iter().enumerate() {
            println!(
                "{:<24} {:<9} {:>11.0} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>6} {:>9}  {}",
                if i == 0 { row.label() } else { String::new() },
                m.engine,
                m.ops_per_sec(),
                m.mb_per_sec(),
                m.p50_us,
                m.p99_us,
                m.p999_us,
                ratio(m.write_amp),
                ratio(m.space_amp),
                m.peak_rss.map_or_else(|| "-".to_owned(), mib),
                m.note
            );
        }
    }

    print_disk_share(report, &rows);

    let peers: Vec<&str> = report
        .engines
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| *name != FERRIS)
        .collect();
    if peers.is_empty() || !report.engines.iter().any(|(name, _)| name == FERRIS) {
        return;
    }
    println!();
    let of_rounds = if rounds > 1 {
        format!("the median of {rounds} rounds' ratios; ")
    } else {
        String::new()
    };
    println!(
        "FerrisDB over each peer ({of_rounds}ops/s ratio; above 1.00x FerrisDB is faster; peak RSS ratio: below 1.00x FerrisDB uses less)"
    );
    print!("{:<24}", "workload");
    for peer in &peers {
        print!(" {peer:>10}");
    }
    println!();
    let cell =
        |ratios: &[f64]| median(ratios).map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
    for &row in &rows {
        if median_run(report, FERRIS, row).is_none() {
            continue;
        }
        print!("{:<24}", row.label());
        for peer in &peers {
            print!(" {:>10}", cell(&ops_ratios(report, peer, row)));
        }
        println!();
    }
    print!("{:<24}", "peak RSS");
    for peer in &peers {
        print!(" {:>10}", cell(&rss_ratios(report, peer)));
    }
    println!();
    if rounds > 1 {
        println!();
        println!("each round's ratio, in round order");
        for &row in &rows {
            if median_run(report, FERRIS, row).is_none() {
                continue;
            }
            print!("{:<24}", row.label());
            for peer in &peers {
                let ratios: Vec<String> = ops_ratios(report, peer, row)
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect();
                print!("  {peer} {}", ratios.join(" "));
            }
            println!();
        }
    }
}

/// With the disk's random reads measured: each engine's point reads per second (its
/// median run) over them. Near 1.0 an engine reads the disk once per get; above 1.0 its
/// memory answers some of them.
fn print_disk_share(report: &SuiteReport, rows: &[Row]) {
    let Some(disk) = report.disk_reads_per_second else {
        return;
    };
    for &row in rows.iter().filter(|r| r.workload == Workload::Readrandom) {
        let shares: Vec<String> = report
            .engines
            .iter()
            .filter_map(|(engine, _)| {
                let m = median_run(report, engine, row)?;
                Some(format!("{engine} {:.2}", m.ops_per_sec() / disk))
            })
            .collect();
        println!(
            "{} over the disk's random reads: {}",
            row.label(),
            shares.join(", ")
        );
    }
}

/// How many rounds the report holds.
fn rounds(report: &SuiteReport) -> usize {
    report
        .measurements
        .iter()
        .map(|m| m.round + 1)
        .max()
        .unwrap_or(0)
}

/// The run of `row` on `engine` whose ops/s is the median of its rounds (the lower
/// middle one of an even number).
fn median_run<'a>(report: &'a SuiteReport, engine: &str, row: Row) -> Option<&'a Measurement> {
    let mut runs: Vec<&Measurement> = report
        .measurements
        .iter()
        .filter(|m| m.engine == engine && Row::of(m) == row)
        .collect();
    runs.sort_by(|a, b| a.ops_per_sec().total_cmp(&b.ops_per_sec()));
    runs.get(runs.len().saturating_sub(1) / 2).copied()
}

/// The median (the lower middle value of an even number), or `None` for no values.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// FerrisDB's ops/s over `peer`'s on `row`, one ratio per round that ran both.
fn ops_ratios(report: &SuiteReport, peer: &str, row: Row) -> Vec<f64> {
    let run = |engine: &str, round: usize| {
        report
            .measurements
            .iter()
            .find(|m| m.engine == engine && Row::of(m) == row && m.round == round)
    };
    (0..rounds(report))
        .filter_map(|round| {
            let (ours, theirs) = (run(FERRIS, round)?, run(peer, round)?);
            Some(ours.ops_per_sec() / theirs.ops_per_sec())
        })
        .collect()
}

/// FerrisDB's peak RSS over `peer`'s, the highest of all workloads each, one ratio per
/// round.
fn rss_ratios(report: &SuiteReport, peer: &str) -> Vec<f64> {
    let peak = |engine: &str, round: usize| {
        report
            .measurements
            .iter()
            .filter(|m| m.engine == engine && m.round == round)
            .filter_map(|m| m.peak_rss)
            .max()
    };
    (0..rounds(report))
        .filter_map(|round| {
            let (ours, theirs) = (peak(FERRIS, round)?, peak(peer, round)?);
            Some(ours as f64 / theirs as f64)
        })
        .collect()
}

/// Draws ops/s per workload per engine as grouped bars on a log scale into
/// `dir/dbbench.svg`, and returns the file's path.
///
/// # Errors
///
/// Fails when the directory or the file cannot be written.
pub fn plot(report: &SuiteReport, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("dbbench.svg");
    draw(report, &rows(report), &path)?;
    Ok(path)
}

fn draw(report: &SuiteReport, workloads: &[Row], path: &Path) -> Result<()> {
    let engines: Vec<&str> = report.engines.iter().map(|(e, _)| e.as_str()).collect();
    let top = report
        .measurements
        .iter()
        .map(Measurement::ops_per_sec)
        .fold(10.0f64, f64::max)
        * 2.0;
    let caption = match rounds(report) {
        1 => format!("ops/s per workload (log scale) - {}", report.machine),
        n => format!(
            "ops/s per workload, median of {n} rounds (log scale) - {}",
            report.machine
        ),
    };
    let root = SVGBackend::new(path, (1200, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..workloads.len() as f64, (1f64..top).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(workloads.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 && i < workloads.len() {
                workloads[i].label()
            } else {
                String::new()
            }
        })
        .y_desc("ops/s")
        .draw()?;

    let width = 0.8 / engines.len().max(1) as f64;
    for (e, engine) in engines.iter().enumerate() {
        let color = Palette99::pick(e).to_rgba();
        let bars: Vec<Rectangle<(f64, f64)>> = workloads
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let m = median_run(report, engine, *w)?;
                let x0 = i as f64 + 0.1 + e as f64 * width;
                Some(Rectangle::new(
                    [(x0, 1.0), (x0 + width * 0.95, m.ops_per_sec().max(1.0))],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(*engine)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Microseconds per operation of `engine`'s median run of `row` in `report`.
fn cost_us(report: &SuiteReport, engine: &str, row: Row) -> Option<f64> {
    median_run(report, engine, row).map(|m| 1e6 / m.ops_per_sec())
}

/// `--scale`: for each workload, each engine's cost per operation (µs, its median run) at
/// each key count, and its growth from the smallest to the largest; then FerrisDB's
/// growth over each peer's (below 1.00x FerrisDB's cost grows less).
pub fn print_scale(sizes: &[(u64, SuiteReport)]) {
    let (Some((first_num, first)), Some((last_num, last))) = (sizes.first(), sizes.last()) else {
        return;
    };
    println!();
    println!(
        "cost per operation (us, each engine's median run) by key count; growth is the \
         cost at {last_num} keys over the cost at {first_num}"
    );
    print!("{:<24} {:<9}", "workload", "engine");
    for (num, _) in sizes {
        print!(" {:>12}", num);
    }
    println!(" {:>8}", "growth");
    let growth =
        |engine: &str, row: Row| Some(cost_us(last, engine, row)? / cost_us(first, engine, row)?);
    for row in rows(last) {
        for (i, (engine, _)) in last.engines.iter().enumerate() {
            if median_run(last, engine, row).is_none() {
                continue;
            }
            let label = if i == 0 { row.label() } else { String::new() };
            print!("{label:<24} {engine:<9}");
            for (_, report) in sizes {
                let cell =
                    cost_us(report, engine, row).map_or_else(|| "-".into(), |c| format!("{c:.2}"));
                print!(" {cell:>12}");
            }
            println!(
                " {:>8}",
                growth(engine, row).map_or_else(|| "-".into(), |g| format!("{g:.2}x"))
            );
        }
    }
    let peers: Vec<&str> = last
        .engines
        .iter()
        .map(|(e, _)| e.as_str())
        .filter(|e| *e != FERRIS)
        .collect();
    if peers.is_empty() {
        return;
    }
    println!();
    println!("FerrisDB's growth over each peer's (below 1.00x FerrisDB's cost grows less)");
    for row in rows(last) {
        let Some(ours) = growth(FERRIS, row) else {
            continue;
        };
        print!("{:<24}", row.label());
        for peer in &peers {
            let cell =
                growth(peer, row).map_or_else(|| "-".into(), |g| format!("{:.2}x", ours / g));
            print!("  {peer} {cell}");
        }
        println!();
    }
}

/// Draws `--scale`'s costs: one panel per workload, cost per operation against key count
/// (both log scale), a line per engine, into `dir/scale.svg`; returns its path.
///
/// # Errors
///
/// Fails when the directory or the file cannot be written.
pub fn plot_scale(sizes: &[(u64, SuiteReport)], dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("scale.svg");
    let Some((_, last)) = sizes.last() else {
        return Ok(path);
    };
    let rows = rows(last);
    let columns = 4usize;
    let lines = rows.len().div_ceil(columns).max(1);
    let root = SVGBackend::new(&path, (1200, 260 * lines as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = (
        sizes.first().map_or(1, |(n, _)| *n) as f64,
        sizes.last().map_or(1, |(n, _)| *n) as f64,
    );
    for (panel, row) in root.split_evenly((lines, columns)).iter().zip(&rows) {
        let costs: Vec<f64> = sizes
            .iter()
            .flat_map(|(_, r)| last.engines.iter().filter_map(|(e, _)| cost_us(r, e, *row)))
            .collect();
        let (min, max) = costs
            .iter()
            .fold((f64::MAX, 0f64), |(a, b), &c| (a.min(c), b.max(c)));
        if costs.is_empty() {
            continue;
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(row.label(), ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(48)
            .build_cartesian_2d(
                (lo * 0.8..hi * 1.25).log_scale(),
                (min * 0.5..max * 2.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_labels(4)
            .y_labels(4)
            .y_desc("us/op")
            .x_label_formatter(&|x| match *x {
                x if x >= 1e6 => format!("{:.0}M", x / 1e6),
                x if x >= 1e3 => format!("{:.0}k", x / 1e3),
                x => format!("{x:.0}"),
            })
            .draw()?;
        for (e, (engine, _)) in last.engines.iter().enumerate() {
            let color = Palette99::pick(e).to_rgba();
            let points: Vec<(f64, f64)> = sizes
                .iter()
                .filter_map(|(n, r)| Some((*n as f64, cost_us(r, engine, *row)?)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(engine.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 4), (x + 10, y + 4)], color.filled())
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    drop(root);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `workload` on `engine` in `round` at `ops_per_sec`, peaking at `rss` MiB.
    fn run(
        engine: &str,
        workload: Workload,
        round: usize,
        ops_per_sec: u64,
        rss: u64,
    ) -> Measurement {
        Measurement {
            engine: engine.to_owned(),
            workload,
            threads: 1,
            ops: ops_per_sec,
            seconds: 1.0,
            user_bytes: 0,
            p50_us: 0.0,
            p99_us: 0.0,
            p999_us: 0.0,
            write_amp: None,
            space_amp: None,
            peak_rss: Some(rss << 20),
            note: String::new(),
            round,
            state: None,
        }
    }

    fn report(measurements: Vec<Measurement>) -> SuiteReport {
        SuiteReport {
            machine: "test".into(),
            args: Vec::new(),
            engines: vec![
                ("ferrisdb".into(), String::new()),
                ("peer".into(), String::new()),
            ],
            measurements,
            disk_reads_per_second: None,
        }
    }

    #[test]
    fn the_table_shows_each_engines_median_run() {
        let w = Workload::Fillseq;
        let r = report(vec![
            run("ferrisdb", w, 0, 300, 1),
            run("ferrisdb", w, 1, 100, 1),
            run("ferrisdb", w, 2, 200, 1),
            run("ferrisdb", w, 3, 900, 1),
        ]);
        assert_eq!(rounds(&r), 4);
        // Four rounds: the lower of the two middle runs.
        let row = Row {
            workload: w,
            state: None,
        };
        assert_eq!(median_run(&r, "ferrisdb", row).unwrap().round, 2);
        assert!(median_run(&r, "peer", row).is_none());
    }

    /// Ratios pair the runs of one round: a slow round for both engines does not skew
    /// the ratio, as pairing the engines' separate medians could.
    #[test]
    fn ratios_are_taken_within_rounds_then_their_median() {
        let w = Workload::Readrandom;
        let r = report(vec![
            run("ferrisdb", w, 0, 200, 100),
            run("peer", w, 0, 100, 200),
            run("ferrisdb", w, 1, 100, 100),
            run("peer", w, 1, 80, 100),
            run("ferrisdb", w, 2, 330, 150),
            run("peer", w, 2, 300, 100),
            run("ferrisdb", Workload::Fillseq, 2, 1, 300),
        ]);
        let row = Row {
            workload: w,
            state: None,
        };
        assert_eq!(ops_ratios(&r, "peer", row), [2.0, 1.25, 1.1]);
        assert_eq!(median(&ops_ratios(&r, "peer", row)), Some(1.25));
        // Peak RSS: each engine's highest of the round, over all its workloads.
        assert_eq!(rss_ratios(&r, "peer"), [0.5, 1.0, 3.0]);
        assert_eq!(median(&[]), None);
    }

    /// A read workload's fresh and settled runs are rows of their own, each with its own
    /// ratios, the fresh one first.
    #[test]
    fn each_state_is_a_row_of_its_own() {
        let w = Workload::Readseq;
        let in_state = |m: Measurement, state| Measurement {
            state: Some(state),
            ..m
        };
        let r = report(vec![
            in_state(run("ferrisdb", w, 0, 300, 1), State::Settled),
            in_state(run("peer", w, 0, 100, 1), State::Settled),
            in_state(run("ferrisdb", w, 0, 90, 1), State::Fresh),
            in_state(run("peer", w, 0, 100, 1), State::Fresh),
            run("ferrisdb", Workload::Overwrite, 0, 5, 1),
        ]);
        let rows = rows(&r);
        let labels: Vec<String> = rows.iter().map(|row| row.label()).collect();
        assert_eq!(labels, ["overwrite", "readseq fresh", "readseq settled"]);
        assert_eq!(ops_ratios(&r, "peer", rows[1]), [0.9]);
        assert_eq!(ops_ratios(&r, "peer", rows[2]), [3.0]);
    }

    /// `--scale`'s chart has a panel per workload and a line per engine, from each size's
    /// report.
    #[test]
    fn the_scale_chart_draws_each_size() {
        let w = Workload::Readrandom;
        let sizes = vec![
            (
                1_000,
                report(vec![
                    run("ferrisdb", w, 0, 400, 1),
                    run("peer", w, 0, 200, 1),
                ]),
            ),
            (
                10_000,
                report(vec![
                    run("ferrisdb", w, 0, 200, 1),
                    run("peer", w, 0, 50, 1),
                ]),
            ),
        ];
        // Cost doubled for FerrisDB (2.5 to 5 us), quadrupled for the peer.
        let growth = |engine| {
            cost_us(&sizes[1].1, engine, Row::of(&sizes[1].1.measurements[0]))
                .zip(cost_us(
                    &sizes[0].1,
                    engine,
                    Row::of(&sizes[0].1.measurements[0]),
                ))
                .map(|(last, first)| last / first)
        };
        assert_eq!(growth("ferrisdb"), Some(2.0));
        assert_eq!(growth("peer"), Some(4.0));
        print_scale(&sizes);
        let dir = tempfile::tempdir().unwrap();
        let path = plot_scale(&sizes, dir.path()).unwrap();
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(svg.contains("readrandom") && svg.contains("peer"), "{svg}");
    }
}
