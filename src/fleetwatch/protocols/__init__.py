"""The ecosystem's protocols on top of Fleetwatch's storage: InfluxDB line protocol in
(``/write``, ``/api/v2/write``), InfluxQL out (``/query``) and the Prometheus exposition format
(``/metrics``), all authenticated by an organization's :class:`~fleetwatch.protocols.models.AccessToken`
(``access``)."""
