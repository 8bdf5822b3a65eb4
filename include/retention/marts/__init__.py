"""The tables marketers read: views in the `marts` dataset over the scored weeks."""
