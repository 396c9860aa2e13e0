DROP TABLE list_cursors;
