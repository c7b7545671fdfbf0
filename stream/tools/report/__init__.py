"""The weekly report of a region, as the regional centre's slides read it: ``data`` loads it from
the views, ``terminal`` prints it with rich, ``html`` renders one self-contained page.

    report = load_report(sink, week=None, region="r1")
    render(report, Console())
    Path("report.html").write_text(render_html(report), encoding="utf-8")
"""

from stream.tools.report.data import NoDataError, Report, ReportArgumentError, load_report

__all__ = ["NoDataError", "Report", "ReportArgumentError", "load_report"]
