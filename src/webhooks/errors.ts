import { AppError } from '../errors.js';

export class WebhookEndpointNotFoundError extends AppError {
  readonly code = 'WEBHOOK_ENDPOINT_NOT_FOUND';
  constructor(readonly id: string) {
    super(`No webhook endpoint with id ${id}.`);
  }
}

export class WebhookDeliveryNotFoundError extends AppError {
  readonly code = 'WEBHOOK_DELIVERY_NOT_FOUND';
  constructor(readonly id: string) {
    super(`No webhook delivery with id ${id}.`);
  }
}

/** The URL is not http(s), or resolves to a loopback, link-local or private address (WEBHOOK_ALLOW_PRIVATE is off). */
export class WebhookUrlRefusedError extends AppError {
  readonly code = 'WEBHOOK_URL_REFUSED';
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
  }
}
