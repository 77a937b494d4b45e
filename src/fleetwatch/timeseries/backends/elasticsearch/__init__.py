"""Elasticsearch 9: one document per point in time-based indices, charts as aggregations."""

from fleetwatch.timeseries.backends.elasticsearch.backend import ElasticsearchBackend as Backend

__all__ = ["Backend"]
