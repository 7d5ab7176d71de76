"""Inventory of personal information (systems, tables, fields, categories, purposes, retention,
storage location, third parties) and the collection-and-use rules published from it (O24-5, O24-8,
O24-9.2, O24-9.3, CSL-41)."""
