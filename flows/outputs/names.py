"""The names of the files a run writes (a contract: see the README's "Outputs")."""

VALUES, LISTS, FINDINGS, STATUS, REPORTING = (
    "values.csv", "lists.csv", "findings.csv", "status.csv", "reporting.csv")
FINDINGS_XLSX, RUN_JSON, REVIEW_XLSX = "findings.xlsx", "run.json", "duyet.xlsx"
DOCX, HTML, APPENDIX_XLSX, PDF = "bao-cao.docx", "report.html", "phu-luc.xlsx", "bao-cao.pdf"
# The internal version of the report and appendix: exact numbers, marked not for distribution.
INTERNAL_DOCX, INTERNAL_XLSX = "bao-cao-noi-bo.docx", "phu-luc-noi-bo.xlsx"
CHARTS = {"completeness": "bieu-do-hoan-thanh.png", "trends": "bieu-do-xu-huong.png"}
STATE = "state"

ALL = frozenset({VALUES, LISTS, FINDINGS, STATUS, REPORTING, FINDINGS_XLSX, RUN_JSON,
                 REVIEW_XLSX, DOCX, HTML, APPENDIX_XLSX, PDF, INTERNAL_DOCX, INTERNAL_XLSX,
                 *CHARTS.values()})
