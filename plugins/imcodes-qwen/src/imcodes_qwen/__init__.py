"""imcodes-qwen: Qwen Code transport."""
