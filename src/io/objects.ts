/** Helpers for building objects from keys found in files. */

/**
 * Sets an own, enumerable property, even for keys such as "__proto__" that a plain
 * assignment would treat as the prototype: a key from a file never changes an object's prototype.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
