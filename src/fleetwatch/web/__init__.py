"""Server-rendered dashboard pages; charts are drawn in the browser from the chart API."""
