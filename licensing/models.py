# Models arrive with their own issues; see ../shared/DESIGN.md for what lives here.
