PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE builds (
	service VARCHAR(63) NOT NULL, 
	"commit" VARCHAR(64) NOT NULL, 
	author VARCHAR NOT NULL, 
	subject VARCHAR NOT NULL, 
	builder VARCHAR NOT NULL, 
	"trigger" VARCHAR NOT NULL, 
	config_key VARCHAR(32), 
	id INTEGER NOT NULL, 
	status VARCHAR(11) NOT NULL, 
	stage VARCHAR(6), 
	signature VARCHAR, 
	log_excerpt TEXT, 
	image VARCHAR, 
	attempts INTEGER NOT NULL, 
	flow_run_id VARCHAR, 
	host VARCHAR, 
	pid INTEGER, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	duration_s FLOAT, 
	PRIMARY KEY (id)
);
INSERT INTO builds VALUES('payments','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','Ada <ada@example.org>','Add refunds','docker','check','5f2b9c0e7d1a4b3c8e6f0a9d2c4b7e1f',1,'passed',NULL,NULL,replace('   Compiling payments v0.1.0\n    Finished release','\n',char(10)),'bm-payments:aaaaaaaaaaaa',1,'6b1f0a52-0000-4000-8000-000000000001','ci-1',4242,'2026-11-20 09:30:00.000000','2026-11-20 09:30:41.500000',41.5);
INSERT INTO builds VALUES('payments','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','Bob <bob@example.org>','Refactor ''fees''; drop "legacy" path','local','push','5f2b9c0e7d1a4b3c8e6f0a9d2c4b7e1f',2,'failed','test','test failed: fees::tests::rounding',replace('thread ''fees::tests::rounding'' panicked\nassertion failed','\n',char(10)),NULL,2,NULL,'ci-1',4243,'2026-11-20 09:35:00.000000','2026-11-20 09:36:00.000000',60.25);
INSERT INTO builds VALUES('ledger','cccccccccccccccccccccccccccccccccccccccc','','','docker','check',NULL,3,'interrupted',NULL,NULL,NULL,NULL,0,NULL,'ci-2',77,'2026-11-20 09:37:00.000000',NULL,NULL);
CREATE TABLE notifications (
	id INTEGER NOT NULL, 
	dedup_key VARCHAR(255) NOT NULL, 
	channel VARCHAR(255) NOT NULL, 
	event VARCHAR(64) NOT NULL, 
	service VARCHAR(63) NOT NULL, 
	"commit" VARCHAR(64), 
	status VARCHAR(32) NOT NULL, 
	detail TEXT, 
	created_at DATETIME NOT NULL, 
	sent_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_notification_dedup UNIQUE (dedup_key, channel)
);
INSERT INTO notifications VALUES(1,'build-failed:payments:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','ops-slack','build_failed','payments','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','sent','200 OK','2026-11-20 09:36:00.000000','2026-11-20 09:36:02.000000');
INSERT INTO notifications VALUES(2,'culprit:payments:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','email','culprit_found','payments',NULL,'failed',NULL,'2026-11-20 09:38:00.000000',NULL);
CREATE TABLE webhook_deliveries (
	id INTEGER NOT NULL, 
	forge VARCHAR(16) NOT NULL, 
	delivery_id VARCHAR(255) NOT NULL, 
	service VARCHAR(63), 
	event VARCHAR(64) NOT NULL, 
	payload TEXT, 
	emitted BOOLEAN NOT NULL, 
	received_at DATETIME NOT NULL, 
	emitted_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_webhook_delivery UNIQUE (forge, delivery_id)
);
INSERT INTO webhook_deliveries VALUES(1,'github','72d3162e-cc78-11e3-81ab-4c9367dc0958','payments','push','[{"event": "build-monitor.push", "resource": {"prefect.resource.id": "build-monitor.service.payments"}}]',1,'2026-11-20 09:34:00.000000','2026-11-20 09:34:01.000000');
INSERT INTO webhook_deliveries VALUES(2,'gitlab','gl-0001',NULL,'push','[]',0,'2026-11-20 09:40:00.000000',NULL);
CREATE TABLE bisections (
	service VARCHAR(63) NOT NULL, 
	good VARCHAR(64) NOT NULL, 
	bad VARCHAR(64) NOT NULL, 
	"trigger" VARCHAR NOT NULL, 
	id INTEGER NOT NULL, 
	status VARCHAR(12) NOT NULL, 
	culprit VARCHAR(64), 
	culprit_author VARCHAR, 
	culprit_subject VARCHAR, 
	confidence FLOAT, 
	signature VARCHAR, 
	builds INTEGER NOT NULL, 
	suspects TEXT, 
	reason TEXT, 
	report TEXT, 
	log_excerpt TEXT, 
	flow_run_id VARCHAR, 
	host VARCHAR, 
	pid INTEGER, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO bisections VALUES('payments','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','monitor',1,'confirmed','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','Bob <bob@example.org>','Refactor ''fees''',0.98765400000000003188,'test failed: fees::tests::rounding',3,'[["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0.987654]]',NULL,replace('# Culprit\n\n`bbbbbbbbbb` Refactor ''fees''','\n',char(10)),'panicked','6b1f0a52-0000-4000-8000-000000000002','ci-1',5000,'2026-11-20 09:36:00.000000','2026-11-20 09:38:00.000000');
INSERT INTO bisections VALUES('ledger','cccccccccccccccccccccccccccccccccccccccc','dddddddddddddddddddddddddddddddddddddddd','cli',2,'running',NULL,NULL,NULL,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'ci-2',5001,'2026-11-20 09:39:00.000000',NULL);
CREATE TABLE rollbacks (
	service VARCHAR(63) NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	strategy VARCHAR(16) NOT NULL, 
	"trigger" VARCHAR(32) NOT NULL, 
	triggered_by VARCHAR NOT NULL, 
	reason TEXT, 
	from_commit VARCHAR(64), 
	to_commit VARCHAR(64), 
	culprit VARCHAR(64), 
	dry_run BOOLEAN NOT NULL, 
	id INTEGER NOT NULL, 
	status VARCHAR(11) NOT NULL, 
	automatic BOOLEAN NOT NULL, 
	gates TEXT, 
	verification VARCHAR(16), 
	verification_detail TEXT, 
	revert_commit VARCHAR(64), 
	pushed_ref VARCHAR, 
	error TEXT, 
	flow_run_id VARCHAR, 
	host VARCHAR, 
	pid INTEGER, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	duration_s FLOAT, 
	PRIMARY KEY (id)
);
INSERT INTO rollbacks VALUES('payments','rollback','redeploy','bisect','build-monitor','culprit bbbbbbbbbb confirmed','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',0,1,'succeeded',1,'[{"gate": "confidence", "passed": true}]','passed','GET /health 200',NULL,NULL,NULL,'6b1f0a52-0000-4000-8000-000000000003','ci-1',6000,'2026-11-20 09:38:00.000000','2026-11-20 09:38:30.000000',30.0);
INSERT INTO rollbacks VALUES('ledger','rollback','revert','cli','','',NULL,NULL,NULL,1,2,'refused',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'2026-11-20 09:41:00.000000',NULL,NULL);
CREATE TABLE services (
	name VARCHAR(63) NOT NULL, 
	repo VARCHAR NOT NULL, 
	branch VARCHAR NOT NULL, 
	state VARCHAR(7) NOT NULL, 
	updated_at DATETIME NOT NULL, 
	last_build_id INTEGER, 
	PRIMARY KEY (name), 
	FOREIGN KEY(last_build_id) REFERENCES builds (id)
);
INSERT INTO services VALUES('payments','https://git.example/payments.git','main','failing','2026-11-20 09:39:00.000000',2);
INSERT INTO services VALUES('ledger','/srv/git/ledger','release/1.x','unknown','2026-11-20 09:30:00.000000',NULL);
CREATE TABLE bisect_probes (
	id INTEGER NOT NULL, 
	bisection_id INTEGER NOT NULL, 
	"commit" VARCHAR(64) NOT NULL, 
	outcome VARCHAR(16) NOT NULL, 
	signature VARCHAR, 
	duration_s FLOAT NOT NULL, 
	cached BOOLEAN NOT NULL, 
	build_id INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(bisection_id) REFERENCES bisections (id), 
	FOREIGN KEY(build_id) REFERENCES builds (id)
);
INSERT INTO bisect_probes VALUES(1,1,'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','failed','test failed: fees::tests::rounding',60.25,1,2,'2026-11-20 09:36:05.000000');
INSERT INTO bisect_probes VALUES(2,1,'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee','passed',NULL,12.5,0,NULL,'2026-11-20 09:37:00.000000');
CREATE TABLE rollback_steps (
	rollback_id INTEGER NOT NULL, 
	position INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	detail TEXT, 
	id INTEGER NOT NULL, 
	undo TEXT, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(rollback_id) REFERENCES rollbacks (id)
);
INSERT INTO rollback_steps VALUES(1,0,'start_image','done','bm-payments:aaaaaaaaaaaa',1,'{"container": "bm-payments-next"}','2026-11-20 09:38:00.000000','2026-11-20 09:38:10.000000');
INSERT INTO rollback_steps VALUES(1,1,'verify','running',NULL,2,NULL,'2026-11-20 09:38:10.000000',NULL);
CREATE INDEX ix_builds_status ON builds (status);
CREATE INDEX ix_builds_config_key ON builds (config_key);
CREATE INDEX ix_builds_service ON builds (service);
CREATE INDEX ix_builds_commit ON builds ("commit");
CREATE INDEX ix_notifications_dedup_key ON notifications (dedup_key);
CREATE INDEX ix_notifications_service ON notifications (service);
CREATE INDEX ix_notifications_channel ON notifications (channel);
CREATE INDEX ix_bisections_status ON bisections (status);
CREATE INDEX ix_bisections_service ON bisections (service);
CREATE INDEX ix_rollbacks_automatic ON rollbacks (automatic);
CREATE INDEX ix_rollbacks_status ON rollbacks (status);
CREATE INDEX ix_rollbacks_service ON rollbacks (service);
CREATE INDEX ix_bisect_probes_bisection_id ON bisect_probes (bisection_id);
CREATE INDEX ix_rollback_steps_rollback_id ON rollback_steps (rollback_id);
COMMIT;
