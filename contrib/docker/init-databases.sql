-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d/):
-- one database per cardcrm service, owned by the user the image created (POSTGRES_USER).
CREATE DATABASE cardcrm_core;
CREATE DATABASE cardcrm_calendar;
CREATE DATABASE cardcrm_notifications;
