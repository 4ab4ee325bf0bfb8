"""Where the workbooks come from: a folder of spreadsheet files, or Google Sheets.

Only this package touches file formats (openpyxl) and Google (gspread).
"""
