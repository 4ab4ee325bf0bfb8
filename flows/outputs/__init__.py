"""What a run writes: the CSV tables, the findings workbook, the report, the run folders."""
