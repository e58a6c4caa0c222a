DROP TABLE console_reveals;
