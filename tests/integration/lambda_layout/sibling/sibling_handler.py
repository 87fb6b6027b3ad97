"""Imports a module of another function's folder (functions/orders/): on Lambda each function has
only its own folder and the layer, so this fails there, although a single process that puts every
function folder on one path (the project's editable install does) would import it."""

import orders_service


def lambda_handler(event, context):
    return {"statusCode": 200, "body": orders_service.__name__}
