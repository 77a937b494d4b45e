"""Built-in time-series backends, one package each (loaded by ``timeseries.loading``)."""
