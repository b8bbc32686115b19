-- The SQLite workload of eval/realworld: run by the shell on a database file as
--   sqlite3 DB '.parameter set $n ROWS' '.read workload.sql'
-- Transactions (commit, rollback, savepoints), indexes, joins, triggers, views,
-- recursive CTEs, window functions, JSON (also nested close to its depth limit),
-- full-text search, an R-tree, .dump, and statements that fail on purpose (the
-- shell reports each error and goes on; its exit status says that one failed).
-- Everything printed is deterministic: no time, no random(), ordered results.
.headers on
.mode list
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;

CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, city TEXT, credit REAL CHECK (credit >= 0));
CREATE TABLE item(id INTEGER PRIMARY KEY, label TEXT NOT NULL, price INTEGER NOT NULL);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL REFERENCES customer(id),
                    item INTEGER NOT NULL REFERENCES item(id), qty INTEGER NOT NULL DEFAULT 1);
CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT, ref INTEGER);
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item ON orders(item, qty);
CREATE INDEX customer_city ON customer(city) WHERE city IS NOT NULL;

CREATE TRIGGER order_added AFTER INSERT ON orders BEGIN
  INSERT INTO audit(what, ref) VALUES ('order', new.id);
  UPDATE customer SET credit = credit - (SELECT price FROM item WHERE id = new.item) * new.qty
   WHERE id = new.customer;
END;
CREATE TRIGGER no_debt BEFORE UPDATE OF credit ON customer WHEN new.credit < 0 BEGIN
  SELECT RAISE(ABORT, 'credit exhausted');
END;
CREATE VIEW spending AS
  SELECT c.name, c.city, sum(i.price * o.qty) AS total, count(*) AS orders
    FROM customer c JOIN orders o ON o.customer = c.id JOIN item i ON i.id = o.item
   GROUP BY c.id;

BEGIN;
WITH RECURSIVE seq(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM seq WHERE k < $n)
INSERT INTO customer(name, city, credit)
  SELECT printf('customer-%05d', k), CASE k % 4 WHEN 0 THEN NULL ELSE 'city-' || (k % 7) END, 1000000
    FROM seq;
WITH RECURSIVE seq(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM seq WHERE k < 50)
INSERT INTO item(label, price) SELECT 'item-' || k, (k * 37) % 101 + 1 FROM seq;
WITH RECURSIVE seq(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM seq WHERE k < 3 * $n)
INSERT INTO orders(customer, item, qty) SELECT (k * 7) % $n + 1, (k * 13) % 50 + 1, k % 5 + 1 FROM seq;
COMMIT;

SELECT 'customers', count(*) FROM customer;
SELECT 'orders', count(*), sum(qty) FROM orders;
SELECT 'audit', count(*), max(seq) FROM audit;

-- a rolled-back transaction leaves nothing behind
BEGIN;
DELETE FROM orders WHERE qty > 2;
SELECT 'inside', count(*) FROM orders;
ROLLBACK;
SELECT 'after rollback', count(*) FROM orders;

-- savepoints
SAVEPOINT a;
INSERT INTO item(label, price) VALUES ('temp-1', 1);
SAVEPOINT b;
INSERT INTO item(label, price) VALUES ('temp-2', 2);
ROLLBACK TO b;
RELEASE a;
SELECT 'items', count(*), group_concat(label, ',') FILTER (WHERE label LIKE 'temp-%') FROM item;

-- joins, aggregates, window functions
SELECT city, count(*) AS n, sum(total) AS spent FROM spending GROUP BY city ORDER BY city NULLS FIRST;
SELECT name, total, rank() OVER (ORDER BY total DESC, name) AS r FROM spending ORDER BY r LIMIT 5;
SELECT i.label, count(o.id) AS n FROM item i LEFT JOIN orders o ON o.item = i.id
 GROUP BY i.id HAVING n < (SELECT 3 * $n / 50) ORDER BY n, i.label LIMIT 5;
SELECT c.name FROM customer c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer = c.id) ORDER BY c.name LIMIT 3;
SELECT qty, count(*), sum(count(*)) OVER (ORDER BY qty) FROM orders GROUP BY qty;
EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer = 5;

-- recursive CTEs
WITH RECURSIVE fib(a, b, k) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, k + 1 FROM fib WHERE k < 40)
SELECT 'fib', max(a) FROM fib;
WITH RECURSIVE tree(id, parent, depth, path) AS (
  SELECT 1, NULL, 0, '1'
  UNION ALL SELECT id * 2 + d, id, depth + 1, path || '/' || (id * 2 + d)
    FROM tree, (SELECT 0 AS d UNION ALL SELECT 1) WHERE depth < 6)
SELECT 'tree', count(*), max(depth), max(length(path)) FROM tree;

-- JSON
SELECT json_object('n', $n, 'list', json_array(1, 2.5, 'three', NULL), 'ok', json('true'));
SELECT 'json_each', count(*), sum(value) FROM json_each(json_array(1, 2, 3, 4, 5));
SELECT 'json_tree', count(*) FROM json_tree('{"a":{"b":[1,2,{"c":3}]},"d":"e"}');
SELECT json_extract('{"a":{"b":[10,20,30]}}', '$.a.b[1]'), json_set('{"a":1}', '$.b', 2), json_remove('[1,2,3]', '$[0]');
SELECT json_group_array(name) FROM (SELECT name FROM customer ORDER BY id LIMIT 3);
SELECT json_group_object(label, price) FROM (SELECT label, price FROM item ORDER BY id LIMIT 3);
-- nested close to the parser's depth limit (JSON_MAX_DEPTH, 2000 in 3.40), then past it (not valid)
SELECT 'json depth 1990', json_valid(printf('%.*c%.*c', 1990, '[', 1990, ']'));
SELECT 'json depth 2010', json_valid(printf('%.*c%.*c', 2010, '[', 2010, ']'));

-- full-text search and an R-tree
CREATE VIRTUAL TABLE doc USING fts4(body);
INSERT INTO doc(body) SELECT 'order ' || id || ' of item ' || item || CASE WHEN qty > 3 THEN ' large' ELSE ' small' END
  FROM orders WHERE id <= 200;
SELECT 'fts large', count(*) FROM doc WHERE doc MATCH 'large';
SELECT 'fts phrase', count(*) FROM doc WHERE doc MATCH '"item 7"';
CREATE VIRTUAL TABLE box USING rtree(id, x0, x1, y0, y1);
INSERT INTO box SELECT id, id % 10, id % 10 + 2, id % 7, id % 7 + 3 FROM orders WHERE id <= 300;
SELECT 'rtree', count(*) FROM box WHERE x0 <= 5 AND x1 >= 5 AND y0 <= 4 AND y1 >= 4;

-- statements that fail on purpose: the shell prints each error and goes on
INSERT INTO customer(name, credit) VALUES ('customer-00001', 5);
INSERT INTO customer(name, credit) VALUES (NULL, 5);
INSERT INTO customer(name, credit) VALUES ('negative', -1);
INSERT INTO orders(customer, item) VALUES (999999, 1);
UPDATE customer SET credit = -5 WHERE id = 1;
SELECT * FROM no_such_table;
SELEC 1;
SELECT json('{"unterminated": ');
SELECT abs(-9223372036854775807 - 1);
INSERT INTO orders(customer, item, qty) VALUES (1, 1, 100000000);
SELECT 'after errors', count(*) FROM orders;

-- the database survives, checked and dumped
PRAGMA integrity_check;
PRAGMA foreign_key_check;
DELETE FROM orders WHERE id > 20;
DELETE FROM audit WHERE seq > 20;
DELETE FROM customer WHERE id > 10 AND id NOT IN (SELECT customer FROM orders);
DROP TABLE doc;
DROP TABLE box;
.dump
SELECT 'done', (SELECT count(*) FROM customer), (SELECT count(*) FROM orders), (SELECT count(*) FROM audit);
