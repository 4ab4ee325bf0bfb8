"""Google Sheets / Drive access and a loopback emulator of both APIs for tests and rehearsals."""
