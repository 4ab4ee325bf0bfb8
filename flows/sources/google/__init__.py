"""Google Sheets: the API client, the pull source, write-back of flags, and provisioning.

The only package that imports gspread or talks to Google.
"""
