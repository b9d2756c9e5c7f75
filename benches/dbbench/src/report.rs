//! The suite's output: the header (machine and each engine's settings), the table, the
//! ratios of FerrisDB over each peer, and the SVG chart.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::SuiteReport;
use crate::workload::{Measurement, Workload};

const FERRIS: &str = "ferrisdb";

/// Prints what the run is about to measure, and where.
pub(crate) fn print_header(report: &SuiteReport, dir: &Path) {
    println!("FerrisDB db_bench");
    println!("machine: {}; directory: {}", report.machine, dir.display());
    println!("options: {}", report.args.join(" "));
    for (engine, settings) in &report.engines {
        println!("  {engine}: {settings}");
    }
    println!();
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

/// Prints one row per workload per engine, then FerrisDB's ops/s over each peer's.
pub fn print_table(report: &SuiteReport) {
    println!(
        "{:<13} {:<9} {:>11} {:>8} {:>9} {:>9} {:>9} {:>6} {:>6} {:>9}  notes",
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
    for workload in Workload::ALL {
        let rows: Vec<&Measurement> = report
            .measurements
            .iter()
            .filter(|m| m.workload == workload)
            .collect();
        for (i, m) in rows.iter().enumerate() {
            println!(
                "{:<13} {:<9} {:>11.0} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>6} {:>9}  {}",
                if i == 0 { workload.name() } else { "" },
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
    println!(
        "FerrisDB over each peer (ops/s ratio; above 1.00x FerrisDB is faster; peak RSS ratio: below 1.00x FerrisDB uses less)"
    );
    print!("{:<13}", "workload");
    for peer in &peers {
        print!(" {peer:>10}");
    }
    println!();
    for workload in Workload::ALL {
        let Some(ours) = find(report, FERRIS, workload) else {
            continue;
        };
        print!("{:<13}", workload.name());
        for peer in &peers {
            let cell = find(report, peer, workload)
                .map(|theirs| format!("{:.2}x", ours.ops_per_sec() / theirs.ops_per_sec()));
            print!(" {:>10}", cell.as_deref().unwrap_or("-"));
        }
        println!();
    }
    print!("{:<13}", "peak RSS");
    let ours = max_rss(report, FERRIS);
    for peer in &peers {
        let cell = ours
            .zip(max_rss(report, peer))
            .map(|(a, b)| format!("{:.2}x", a as f64 / b as f64));
        print!(" {:>10}", cell.as_deref().unwrap_or("-"));
    }
    println!();
}

fn find<'a>(report: &'a SuiteReport, engine: &str, workload: Workload) -> Option<&'a Measurement> {
    report
        .measurements
        .iter()
        .find(|m| m.engine == engine && m.workload == workload)
}

fn max_rss(report: &SuiteReport, engine: &str) -> Option<u64> {
    report
        .measurements
        .iter()
        .filter(|m| m.engine == engine)
        .filter_map(|m| m.peak_rss)
        .max()
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
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| report.measurements.iter().any(|m| m.workload == *w))
        .collect();
    draw(report, &workloads, &path)?;
    Ok(path)
}

fn draw(report: &SuiteReport, workloads: &[Workload], path: &Path) -> Result<()> {
    let engines: Vec<&str> = report.engines.iter().map(|(e, _)| e.as_str()).collect();
    let top = report
        .measurements
        .iter()
        .map(Measurement::ops_per_sec)
        .fold(10.0f64, f64::max)
        * 2.0;
    let root = SVGBackend::new(path, (1200, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("ops/s per workload (log scale) - {}", report.machine),
            ("sans-serif", 18),
        )
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
                workloads[i].name().to_owned()
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
                let m = find(report, engine, *w)?;
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
