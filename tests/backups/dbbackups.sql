-- A wmfbackups metadata database, written for Fleetwatch's importer tests from the description
-- of its schema in shared/reference/backups.md (A.2): one row per backup run in `backups`, its
-- file inventory in `backup_files`, database objects in `backup_objects`. The status enum holds
-- `deleted`, which wmfbackups' code writes (A.2); every TIMESTAMP is stored in UTC.
-- Statements are separated by ";" at the end of a line (tests/backups/test_importer.py runs them).

CREATE TABLE backups (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    name VARCHAR(100) CHARACTER SET latin1 NULL,
    status ENUM('ongoing', 'finished', 'failed', 'deleted') NOT NULL,
    source VARCHAR(100) CHARACTER SET latin1 NULL,
    host VARCHAR(300) CHARACTER SET latin1 NULL,
    type ENUM('dump', 'snapshot', 'cold') NULL,
    section VARCHAR(100) NULL,
    start_date TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:01',
    end_date TIMESTAMP NULL DEFAULT NULL,
    total_size BIGINT UNSIGNED NULL,
    PRIMARY KEY (id),
    KEY last_backup (type, section, status, start_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE backup_files (
    backup_id INT UNSIGNED NOT NULL,
    file_path VARCHAR(300) NOT NULL DEFAULT '',
    file_name VARCHAR(300) NOT NULL,
    size BIGINT UNSIGNED NULL,
    file_date TIMESTAMP NULL DEFAULT NULL,
    backup_object_id BIGINT UNSIGNED NULL,
    PRIMARY KEY (backup_id, file_path, file_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE backup_objects (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    backup_id INT UNSIGNED NOT NULL,
    db VARCHAR(100) NOT NULL,
    name VARCHAR(100) NULL,
    size BIGINT UNSIGNED NULL,
    PRIMARY KEY (id),
    UNIQUE KEY backup_db_name (backup_id, db, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
