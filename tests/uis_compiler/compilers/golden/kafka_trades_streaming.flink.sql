-- Flink SQL for UIS spec `exchange_trades_stream` (provider `exchange`, UIS 1.2), compiled by Headwater; edit the spec, not this file.
-- Target: Apache Flink 2.0 with the Kafka, JDBC, Iceberg and Parquet connectors.
-- Secrets are placeholders inside string literals: {{ secrets.NAME }} or {{ secrets.NAME.KEY }}; the submitter substitutes them inside the job.
-- secret catalog_password = env:HEADWATER_CATALOG_PASSWORD

SET 'pipeline.name' = 'headwater-exchange_trades_stream';
SET 'parallelism.default' = '2';
SET 'execution.runtime-mode' = 'streaming';
SET 'execution.checkpointing.interval' = '60s';

-- Source: endpoint trades
CREATE TEMPORARY TABLE `trades$source` (
  `payload` STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'market.trades',
  'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092',
  'properties.group.id' = 'headwater-exchange_trades_stream',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw'
);

CREATE TEMPORARY VIEW `trades` AS
SELECT
  TRY_CAST(JSON_VALUE(`payload`, '$.trade.id') AS BIGINT) AS `trade_id`,
  JSON_VALUE(`payload`, '$.trade.sym') AS `ticker`,
  TRY_CAST(JSON_VALUE(`payload`, '$.trade.px.value') AS DOUBLE) AS `price`,
  TRY_CAST(JSON_VALUE(`payload`, '$.trade.qty') AS BIGINT) AS `size`,
  COALESCE(TRY_CAST(JSON_VALUE(`payload`, '$.trade.ts') AS TIMESTAMP(3)), TO_TIMESTAMP(JSON_VALUE(`payload`, '$.trade.ts'), 'yyyy-MM-dd''T''HH:mm:ss[.SSS][XXX]')) AS `traded_at`,
  'XNYS' AS `venue`
FROM `trades$source`;

CREATE TEMPORARY VIEW `clean_trades` AS
SELECT trade_id, ticker, price, size, traded_at, venue
FROM trades
WHERE price > 0;

CREATE CATALOG `headwater` WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = 'jdbc:postgresql://127.0.0.1:5432/headwater_catalog',
  'jdbc.user' = 'headwater',
  'jdbc.password' = '{{ secrets.catalog_password }}',
  'warehouse' = 'file:///var/lib/headwater/warehouse'
);

CREATE DATABASE IF NOT EXISTS `headwater`.`market_data`;

CREATE TABLE IF NOT EXISTS `headwater`.`market_data`.`trades` (
  `trade_id` BIGINT,
  `ticker` STRING,
  `price` DOUBLE,
  `size` BIGINT,
  `traded_at` TIMESTAMP(3),
  `venue` STRING,
  PRIMARY KEY (`trade_id`, `ticker`) NOT ENFORCED
) PARTITIONED BY (`ticker`) WITH (
  'format-version' = '2',
  'write.upsert.enabled' = 'true'
);

CREATE TEMPORARY TABLE `sink1$kafka` (
  `trade_id` BIGINT,
  `ticker` STRING,
  `price` DOUBLE,
  `size` BIGINT,
  `traded_at` TIMESTAMP(3),
  `venue` STRING,
  PRIMARY KEY (`trade_id`) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'market.trades.clean',
  'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092',
  'key.format' = 'json',
  'value.format' = 'json'
);

EXECUTE STATEMENT SET
BEGIN
INSERT INTO `headwater`.`market_data`.`trades`
SELECT `trade_id`, `ticker`, `price`, `size`, `traded_at`, `venue`
FROM `clean_trades`;

INSERT INTO `sink1$kafka`
SELECT `trade_id`, `ticker`, `price`, `size`, `traded_at`, `venue`
FROM `clean_trades`;
END;
