import { describe, expect, it } from 'vitest';
import {
  blobKey,
  indexKey,
  manifestSequenceKey,
  reportKey,
  sequenceOfManifestKey,
  sha256OfIndexKey,
  sha256OfBlobKey,
  validateKey,
  validatePrefix,
} from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { FolderStore } from '../../src/store/fs-store.ts';
import { S3Store } from '../../src/store/s3-store.ts';

const HEX = 'ab'.repeat(32);

describe('store keys', () => {
  it('builds the DESIGN.md layout', () => {
    expect(blobKey(HEX)).toBe(`blobs/sha256/${HEX}`);
    expect(indexKey(HEX)).toBe(`indexes/sha256/${HEX}.json`);
    expect(manifestSequenceKey(12)).toBe('manifests/12.json');
    expect(reportKey('intent-classifier', '2.1.0', 'h100')).toBe('reports/intent-classifier/2.1.0/h100.json');
    expect(sha256OfBlobKey(blobKey(HEX))).toBe(HEX);
    expect(sha256OfBlobKey(indexKey(HEX))).toBeUndefined();
    expect(sha256OfIndexKey(indexKey(HEX))).toBe(HEX);
    expect(sha256OfIndexKey(blobKey(HEX))).toBeUndefined();
    expect(sequenceOfManifestKey(manifestSequenceKey(12))).toBe(12);
    expect(sequenceOfManifestKey('manifests/012.json')).toBeUndefined();
    expect(sequenceOfManifestKey('manifests/12.json.tmp')).toBeUndefined();
  });

  it('refuses digests that are not 64 lowercase hex', () => {
    expect(() => blobKey('AB'.repeat(32))).toThrow(/not a sha256 digest/);
    expect(() => blobKey('../x')).toThrow(/not a sha256 digest/);
    expect(() => manifestSequenceKey(-1)).toThrow(/non-negative integer/);
  });

  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['a/../../b', /"\.\." segment/],
    ['..', /"\.\." segment/],
    ['a\\b', /backslash/],
    ['a//b', /empty segment/],
    ['a/./b', /"\." segment/],
    ['a/', /ends with "\/"/],
    ['.tmp/x', /reserved/],
    ['a\nb', /control character/],
  ])('refuses key %j', (key, why) => {
    expect(() => validateKey(key)).toThrow(why);
  });

  it('report keys cannot smuggle traversal through their parts', () => {
    expect(() => reportKey('..', '1.0.0', 'x')).toThrow('report key: model ".." is not a safe path segment');
    expect(() => reportKey('m', '1.0.0', 'a/b')).toThrow('report key: testbed "a/b" is not a safe path segment');
    expect(() => reportKey('m', '1..0', 'x')).toThrow('report key: version "1..0" is not a safe path segment');
  });

  it('accepts plain keys and prefixes', () => {
    expect(validateKey('blobs/sha256/x')).toBe('blobs/sha256/x');
    expect(validatePrefix('')).toBe('');
    expect(validatePrefix('blobs/')).toBe('blobs/');
    expect(() => validatePrefix('../')).toThrow(/invalid store prefix/);
  });
});

describe('openStore', () => {
  it('picks the store from the URL', () => {
    expect(openStore('s3://my-bucket/models/prod')).toBeInstanceOf(S3Store);
    expect((openStore('s3://my-bucket/models/prod/') as S3Store).prefix).toBe('models/prod/');
    expect(openStore('file:///tmp/x').url).toBe('file:///tmp/x');
    expect((openStore('relative/dir') as FolderStore).root).toMatch(/^\/.*relative\/dir$/);
    expect(() => openStore('gs://bucket')).toThrow(/unsupported store URL/);
    expect(() => openStore('s3://Bad_Bucket')).toThrow(/invalid S3 bucket name/);
    expect(() => openStore('s3://bucket/a/../b')).toThrow(/"\.\." segment/);
  });
});
