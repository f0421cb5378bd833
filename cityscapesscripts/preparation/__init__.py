"""preparation"""
