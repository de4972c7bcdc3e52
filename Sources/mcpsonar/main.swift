print("mcpsonar")
