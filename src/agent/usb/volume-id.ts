/**
 * The volume id blkid reports, read from the first sectors of a FAT or exFAT file system, for
 * platforms whose tools show something else (macOS's diskutil derives a UUID for FAT volumes).
 * Layouts: Microsoft's FAT specification (BS_VolID at 39 for FAT12/16, 67 for FAT32, after
 * the extended boot signature 0x29) and exFAT specification (VolumeSerialNumber at 100).
 */
export function volumeIdFromBootSector(sector: Uint8Array): { fsType: 'exfat' | 'vfat'; id: string } | null {
  if (sector.length < 512) return null;
  const buf = Buffer.from(sector.buffer, sector.byteOffset, sector.byteLength);
  const serial = (offset: number) => {
    const hex = buf.readUInt32LE(offset).toString(16).toUpperCase().padStart(8, '0');
    return `${hex.slice(0, 4)}-${hex.slice(4)}`;
  };
  if (buf.toString('latin1', 3, 11) === 'EXFAT   ') return { fsType: 'exfat', id: serial(100) };
  if (buf[510] !== 0x55 || buf[511] !== 0xaa) return null;
  const fatSize16 = buf.readUInt16LE(22);
  if (fatSize16 === 0 && buf[66] === 0x29) return { fsType: 'vfat', id: serial(67) };
  if (fatSize16 !== 0 && buf[38] === 0x29) return { fsType: 'vfat', id: serial(39) };
  return null;
}
